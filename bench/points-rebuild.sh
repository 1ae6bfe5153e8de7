#!/usr/bin/env bash
# Measures `emulin points rebuild` on PostgreSQL and Redis for a given number of party members.
#   bench/points-rebuild.sh 5500      (also: 49000)
# Creates (and drops afterwards) the database emulin_bench_rebuild on the server named by PG_URL
# (default postgres://postgres@127.0.0.1:5432); uses REDIS_URL (default redis://127.0.0.1:6379)
# under the key prefix emulin-bench:.
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-5500}
entries_per_member=${ENTRIES_PER_MEMBER:-6}
pg=${PG_URL:-postgres://postgres@127.0.0.1:5432}
redis=${REDIS_URL:-redis://127.0.0.1:6379}
db=emulin_bench_rebuild
export DATABASE_URL="$pg/$db" REDIS_URL="$redis" REDIS_KEY_PREFIX="emulin-bench:"

cargo build --release --quiet
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db"' EXIT
target/release/emulin migrate >/dev/null

# A street of 10 communities with 10 compounds each, one party organisation per compound, and
# the members spread over them, each with a home and a history of awards over 18 months.
psql "$DATABASE_URL" -q <<SQL
INSERT INTO area (parent_id, kind, name, path, created_at)
  SELECT 1, 'STREET', '街道', '', now();
UPDATE area SET path = '/1/' || id || '/' WHERE kind = 'STREET';
INSERT INTO area (parent_id, kind, name, path, created_at)
  SELECT 2, 'COMMUNITY', '社区' || g, '', now() FROM generate_series(1, 10) g;
UPDATE area SET path = '/1/2/' || id || '/' WHERE kind = 'COMMUNITY';
INSERT INTO area (parent_id, kind, name, path, created_at)
  SELECT c.id, 'COMPOUND', '小区' || c.id || '-' || g, '', now()
  FROM area c CROSS JOIN generate_series(1, 10) g WHERE c.kind = 'COMMUNITY';
UPDATE area a SET path = p.path || a.id || '/' FROM area p WHERE a.parent_id = p.id AND a.kind = 'COMPOUND';
INSERT INTO party_org (parent_id, area_id, name, path, created_at)
  SELECT NULL, id, name || '党支部', '', now() FROM area WHERE kind = 'COMPOUND';
UPDATE party_org SET path = '/' || id || '/';
INSERT INTO users (openid, nickname, home_area_id, created_at, updated_at)
  SELECT 'bench-' || g, '党员' || g,
         (SELECT id FROM area WHERE kind = 'COMPOUND' ORDER BY id OFFSET (g % 100) LIMIT 1), now(), now()
  FROM generate_series(1, $members) g;
INSERT INTO party_member (user_id, party_org_id, category, status, created_at)
  SELECT u.id, o.id, 'IN_SERVICE', 'ACTIVE', now() FROM users u JOIN party_org o ON o.area_id = u.home_area_id;
INSERT INTO point_entry (user_id, delta, reason, action, source_key, created_at)
  SELECT u.id, 1 + (u.id * 7 + g) % 10, 'bench', 'WISH_FULFILLED', 'bench:' || g,
         now() - ((u.id + g * 37) % 540) * interval '1 day'
  FROM users u CROSS JOIN generate_series(1, $entries_per_member) g;
ANALYZE;
SQL
echo "members: $members, ledger entries: $((members * entries_per_member))"
for run in 1 2 3; do
  target/release/emulin points rebuild
done
redis-cli -u "$redis" --scan --pattern 'emulin-bench:*' | xargs -r -n 500 redis-cli -u "$redis" del >/dev/null
