#!/usr/bin/env python3
"""Drives the mini-program's mix against a running server with wrk and prints a table.

Each operation runs on its own for the same time and concurrency as the baseline, GET /healthz,
measured against the same process in the same run; each operation's throughput is also given as
a ratio to it. Users are signed in with devLogin (a development-mode server), chosen from the
database: residents with a home, and ACTIVE party members.

Usually started by bench/load.sh, which builds and starts the server first.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

# The client contract's operations, as the mini-program sends them.
ME = "query Me { me { id nickname avatarUrl phoneMasked roles { role area { id name kind } } home { id name kind } } }"
WISHES = (
    "query Wishes($filter: WishFilter, $first: Int, $after: String) { wishes(filter: $filter, first: $first, after: $after) "
    "{ totalCount edges { cursor node { id title status category area { id name } poster { id nickname } "
    "claimant { id nickname } createdAt } } pageInfo { hasNextPage endCursor } } }"
)
WISH = (
    "query Wish($id: ID!) { wish(id: $id) { id title description status category "
    "poster { id nickname } claimant { id nickname } events { action actor { id } note at } } }"
)
LEADERBOARD = (
    "query Leaderboard($scope: LeaderboardScope!, $period: Period!, $first: Int) "
    "{ leaderboard(scope: $scope, period: $period, first: $first) { rank points user { id nickname } } }"
)
MY_POINTS = (
    "query MyPoints { myPoints { total thisMonth thisYear rank history(first: 20) { totalCount "
    "edges { node { id delta reason sourceKey createdAt } } pageInfo { hasNextPage endCursor } } } }"
)
PLACE_ORDER = (
    "mutation PlaceOrder($input: PlaceOrderInput!) { placeOrder(input: $input) "
    "{ id status serviceItem { id } area { id } createdAt } }"
)
DEV_LOGIN = "mutation DevLogin($openid: String!) { devLogin(openid: $openid) { accessToken user { id } } }"
SERVICE_ITEMS = "query ServiceItems($areaId: ID!) { serviceItems(areaId: $areaId) { id } }"


def body(operation, query, variables):
    return json.dumps({"operationName": operation, "query": query, "variables": variables}, ensure_ascii=False)


def graphql(url, query, variables, token=None):
    req = urllib.request.Request(
        url + "/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.load(resp)
    if answer.get("errors"):
        raise SystemExit(f"preparing the run failed: {answer['errors']}")
    return answer["data"]


def psql(database_url, sql):
    out = subprocess.run(["psql", database_url, "-Atc", sql], check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def sign_in(url, openids):
    return [graphql(url, DEV_LOGIN, {"openid": o})["devLogin"]["accessToken"] for o in openids]


class Memory:
    """Samples the server's resident set size while the run goes on."""

    def __init__(self, pid):
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def rss_kb(self, field="VmRSS"):
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def sample(self):
        while not self.stop.wait(0.2):
            self.peak_kb = max(self.peak_kb, self.rss_kb())


def wrk(args, script, env, threads=None, duration=None):
    cmd = [
        args.wrk,
        f"-t{threads or args.threads}",
        f"-c{args.connections}",
        f"-d{duration or args.duration}s",
        "--timeout", "5s",
        "-s", os.path.join(HERE, "wrk", script),
        args.url + ("/healthz" if script == "healthz.lua" else "/graphql"),
    ]
    done = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True)
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    stats = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    stats["rps"] = stats["requests"] / (stats["duration_us"] / 1e6)
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:18490")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--pid", type=int, help="the server's process id, to watch its memory")
    parser.add_argument("--duration", type=int, default=10, help="seconds per operation")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each operation")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--users", type=int, default=200, help="residents and members to sign in as")
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--only", help="comma-separated operations to run (default: all)")
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("give --database-url (or DATABASE_URL): the seeded PostgreSQL database")

    print(f"preparing: signing in {args.users} residents and {args.users} party members", file=sys.stderr)
    residents = psql(
        args.database_url,
        "SELECT u.openid FROM users u WHERE u.home_area_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM party_member m WHERE m.user_id = u.id) "
        f"ORDER BY u.id LIMIT {args.users}",
    )
    members = psql(
        args.database_url,
        "SELECT u.openid FROM users u JOIN party_member m ON m.user_id = u.id "
        f"WHERE m.status = 'ACTIVE' ORDER BY u.id LIMIT {args.users}",
    )
    wish_ids = psql(args.database_url, "SELECT id FROM wish ORDER BY id DESC LIMIT 5000")[::5]
    root = psql(args.database_url, "SELECT id FROM area WHERE parent_id IS NULL ORDER BY id LIMIT 1")[0]
    if len(residents) < args.connections or len(members) < args.connections or not wish_ids:
        raise SystemExit("the database holds too few residents, members or wishes: seed it first")
    resident_tokens = sign_in(args.url, residents)
    member_tokens = sign_in(args.url, members)
    ordering = []
    for token in resident_tokens:
        home = graphql(args.url, ME, {}, token)["me"]["home"]
        items = graphql(args.url, SERVICE_ITEMS, {"areaId": home["id"]}, token)["serviceItems"]
        if items:
            ordering.append(f"{token} {items[0]['id']}")

    work = tempfile.mkdtemp(prefix="emulin-bench-")

    def write(name, lines):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    everyone = write("everyone", resident_tokens + member_tokens)
    member_file = write("members", member_tokens)
    ids = write("wish-ids", wish_ids)
    pairs = write("pairs", [f"{r} {m}" for r, m in zip(resident_tokens, member_tokens)])

    runs = [
        ("healthz", "GET /healthz (baseline)", "healthz.lua", {}, None, False),
        ("me", "me", "graphql.lua", {"BENCH_BODY": body("Me", ME, {}), "BENCH_TOKENS": everyone}, None, True),
        (
            "feed",
            "wishes(first: 20), with area, poster, claimant",
            "graphql.lua",
            {"BENCH_BODY": body("Wishes", WISHES, {"first": 20}), "BENCH_TOKENS": everyone},
            None,
            True,
        ),
        (
            "wish",
            "wish(id) detail",
            "graphql.lua",
            {"BENCH_BODY": body("Wish", WISH, {"id": "{{ID}}"}), "BENCH_TOKENS": everyone, "BENCH_IDS": ids},
            None,
            True,
        ),
        (
            "leaderboard",
            "leaderboard(first: 20), district, month",
            "graphql.lua",
            {
                "BENCH_BODY": body("Leaderboard", LEADERBOARD, {"scope": {"areaId": root}, "period": "MONTH", "first": 20}),
                "BENCH_TOKENS": everyone,
            },
            None,
            True,
        ),
        (
            "mypoints",
            "myPoints (party members)",
            "graphql.lua",
            {"BENCH_BODY": body("MyPoints", MY_POINTS, {}), "BENCH_TOKENS": member_file},
            None,
            True,
        ),
        (
            "order",
            "placeOrder",
            "graphql.lua",
            {
                "BENCH_BODY": body(
                    "PlaceOrder",
                    PLACE_ORDER,
                    {"input": {"serviceItemId": "{{ID}}", "description": "厨房水龙头漏水，请派人看看", "contactPhone": "13800138000"}},
                ),
                "BENCH_TOKENS": write("ordering", ordering),
            },
            None,
            False,
        ),
        ("cycle", "post, claim, fulfil, confirm a wish", "cycle.lua", {"BENCH_PAIRS": pairs}, args.connections, False),
    ]
    if args.only:
        wanted = set(args.only.split(",")) | {"healthz"}
        runs = [r for r in runs if r[0] in wanted]

    memory = Memory(args.pid) if args.pid else None
    if memory:
        memory.thread.start()
    results = []
    for key, label, script, env, threads, read in runs:
        print(f"running {label} for {args.duration}s (after {args.warmup}s of warm-up)", file=sys.stderr)
        if args.warmup:
            # Fills the connection pools and caches, as a server that has been up a while has them.
            wrk(args, script, env, threads, args.warmup)
        stats = wrk(args, script, env, threads)
        results.append((key, label, stats, read))
        time.sleep(1)
    if memory:
        memory.stop.set()
        memory.thread.join()

    baseline = results[0][2]["rps"]
    print()
    print(f"{args.connections} connections, {args.duration} s per operation after {args.warmup} s of warm-up, "
          f"wrk {args.threads} threads ({args.connections} for the cycle); {os.cpu_count()} cores")
    print()
    print("| operation | req/s | × baseline | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    failed = False
    for key, label, stats, read in results:
        errors = stats["errors"] + stats["socket_errors"]
        failed |= errors > 0
        extra = f" ({stats['cycles']} cycles)" if "cycles" in stats else ""
        print(
            f"| {label}{extra} | {stats['rps']:.0f} | {stats['rps'] / baseline:.2f} | "
            f"{stats['p50_us'] / 1000:.2f} | {stats['p99_us'] / 1000:.2f} | {errors} |"
        )
    if memory:
        print()
        print(f"server resident memory: peak {memory.peak_kb / 1024:.0f} MiB during the run "
              f"(high-water mark {memory.rss_kb('VmHWM') / 1024:.0f} MiB)")
    if failed:
        raise SystemExit("some requests failed: the numbers above do not measure the intended work")


if __name__ == "__main__":
    main()
