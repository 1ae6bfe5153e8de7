-- One GraphQL operation, over and over, each request as a random one of the prepared users and,
-- when the body has an {{ID}} placeholder, about a random one of the prepared ids.
--   BENCH_BODY    the JSON request body
--   BENCH_TOKENS  a file of access tokens, one per line, each optionally followed by an id of
--                 that user's own (used for {{ID}} when there is no BENCH_IDS)
--   BENCH_IDS     optional: a file of ids, one per line
-- A response that is not 200 or carries "errors" counts as an error; `done` prints the totals
-- on one line that bench/load.py reads.

local function lines(path)
  local out = {}
  if path == nil or path == "" then return out end
  for line in io.lines(path) do
    if line ~= "" then out[#out + 1] = line end
  end
  return out
end

local threads = {}

function setup(thread)
  thread:set("n", #threads + 1)
  threads[#threads + 1] = thread
end

function init(args)
  errors = 0
  math.randomseed(n * 7919)
  body = os.getenv("BENCH_BODY")
  tokens = lines(os.getenv("BENCH_TOKENS"))
  ids = lines(os.getenv("BENCH_IDS"))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local headers = { ["Content-Type"] = "application/json" }
  local own = nil
  if #tokens > 0 then
    local token
    token, own = string.match(tokens[math.random(#tokens)], "^(%S+)%s*(%S*)$")
    headers["Authorization"] = "Bearer " .. token
  end
  local b = body
  if #ids > 0 then
    b = string.gsub(body, "{{ID}}", ids[math.random(#ids)])
  elseif own ~= nil and own ~= "" then
    b = string.gsub(body, "{{ID}}", own)
  end
  return wrk.format("POST", "/graphql", headers, b)
end

function response(status, headers, resp)
  if status ~= 200 or string.find(resp, '"errors"', 1, true) then
    errors = errors + 1
    if errors == 1 then io.stderr:write("first error: " .. status .. " " .. string.sub(resp, 1, 300) .. "\n") end
  end
end

function done(summary, latency, requests)
  local errs = 0
  for _, t in ipairs(threads) do errs = errs + t:get("errors") end
  io.write(string.format("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errs,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
