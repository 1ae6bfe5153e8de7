-- A wish's whole life, as the mini-program drives it: a resident posts it, a party member claims
-- it, fulfils it, and the resident confirms (points are awarded then). Each wrk thread must own
-- exactly one connection (run with -t equal to -c), so a thread's requests follow one another.
--   BENCH_PAIRS  a file of "residentToken memberToken" lines; thread n uses line n
-- Every request counts in the totals; `done` also prints how many cycles completed.

local threads = {}

function setup(thread)
  thread:set("n", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  errors = 0
  cycles = 0
  step = 1
  wish = nil
  local i = 0
  for line in io.lines(os.getenv("BENCH_PAIRS")) do
    i = i + 1
    if i == n then
      resident, member = string.match(line, "^(%S+)%s+(%S+)$")
    end
  end
  if resident == nil then error("BENCH_PAIRS has no line " .. n) end
end

local posts = '{"operationName":"PostWish","query":"mutation PostWish($input: PostWishInput!) { postWish(input: $input) { id status } }","variables":{"input":{"title":"帮忙取快递","description":"下午三点前到驿站取一个包裹","category":"DAILY_HELP"}}}'

local function call(token, body)
  return wrk.format("POST", "/graphql", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

local function on(name, mutation)
  return '{"operationName":"' .. name .. '","query":"mutation ' .. name .. '($id: ID!) { ' .. mutation
    .. '(id: $id) { id status } }","variables":{"id":"' .. wish .. '"}}'
end

function request()
  if step == 1 or wish == nil then
    step = 1
    return call(resident, posts)
  elseif step == 2 then
    return call(member, on("ClaimWish", "claimWish"))
  elseif step == 3 then
    return call(member, on("FulfillWish", "fulfillWish"))
  else
    return call(resident, on("ConfirmWish", "confirmWish"))
  end
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if errors == 1 then io.stderr:write("first error: " .. status .. " " .. string.sub(body, 1, 300) .. "\n") end
    step = 1
    wish = nil
    return
  end
  if step == 1 then
    wish = string.match(body, '"id":"(%d+)"')
    step = 2
  elseif step == 4 then
    cycles = cycles + 1
    step = 1
  else
    step = step + 1
  end
end

function done(summary, latency, requests)
  local errs, done_cycles = 0, 0
  for _, t in ipairs(threads) do
    errs = errs + t:get("errors")
    done_cycles = done_cycles + t:get("cycles")
  end
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d socket_errors=%d cycles=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errs,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    done_cycles))
end
