#!/usr/bin/env bash
# The load benchmark: builds the server in release mode, starts it on a seeded PostgreSQL
# database and Redis, and drives the mini-program mix with wrk (bench/load.py prints the table).
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/emulin_district bench/load.sh [load.py options]
# Seed the database first: `emulin migrate && emulin seed --scale district`.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to a seeded PostgreSQL database}"
export DATABASE_URL
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
addr=${BENCH_ADDR:-127.0.0.1:18490}

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
  else
    echo "wrk is needed: install it (Debian: apt-get install wrk)" >&2
    exit 1
  fi
fi

cargo build --release --quiet
# Rate limits off: the run is one client address hammering the server on purpose.
EMULIN_RATE_LIMIT=off BIND_ADDR="$addr" LOG_FORMAT=json target/release/emulin serve \
  2>"${BENCH_LOG:-/tmp/emulin-bench-server.log}" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fs "http://$addr/healthz" >/dev/null && break
  kill -0 $server 2>/dev/null || { echo "the server did not start; see ${BENCH_LOG:-/tmp/emulin-bench-server.log}" >&2; exit 1; }
  sleep 0.1
done
python3 bench/load.py --url "http://$addr" --pid "$server" "$@"
