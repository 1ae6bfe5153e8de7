#!/usr/bin/env bash
# Prints PostgreSQL's plan for every list filter of the client contract on a seeded database and
# fails if one of them reads a whole table instead of an index.
#   DATABASE_URL=postgres://localhost/emulin_district bench/explain.sh
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to a seeded PostgreSQL database}"
q() { psql "$DATABASE_URL" -Atc "$1"; }

community=$(q "SELECT path FROM area WHERE kind = 'COMMUNITY' ORDER BY id LIMIT 1")
poster=$(q "SELECT poster_id FROM wish ORDER BY id DESC LIMIT 1")
claimant=$(q "SELECT claimant_id FROM wish WHERE claimant_id IS NOT NULL ORDER BY id DESC LIMIT 1")
resident=$(q "SELECT resident_id FROM service_order ORDER BY id DESC LIMIT 1")
assignee=$(q "SELECT assignee_id FROM service_order WHERE assignee_id IS NOT NULL ORDER BY id DESC LIMIT 1")
member=$(q "SELECT user_id FROM point_entry ORDER BY id DESC LIMIT 1")
org=$(q "SELECT party_org_id FROM party_member ORDER BY id LIMIT 1")
subtree="SELECT id FROM area WHERE path LIKE '${community}%'"

failed=0
check() {
  local name=$1 sql=$2
  local plan
  plan=$(q "EXPLAIN $sql")
  printf '%s\n%s\n\n' "== $name" "$plan"
  # A sequential scan of a table the filter names is what an index should have avoided.
  if grep -Eq "Seq Scan on (wish|service_order|point_entry|party_member|area)\b" <<<"$plan"; then
    echo "!! $name reads a whole table" >&2
    failed=1
  fi
}

check "wishes: newest first" "SELECT * FROM wish ORDER BY id DESC LIMIT 21"
check "wishes: status" "SELECT * FROM wish WHERE status = 'CANCELLED' ORDER BY id DESC LIMIT 21"
check "wishes: area subtree" "SELECT * FROM wish WHERE area_id IN ($subtree) ORDER BY id DESC LIMIT 21"
check "wishes: area subtree, count" "SELECT COUNT(*) FROM wish WHERE area_id IN ($subtree)"
check "wishes: mine" "SELECT * FROM wish WHERE poster_id = $poster ORDER BY id DESC LIMIT 21"
check "wishes: claimed by me" "SELECT * FROM wish WHERE claimant_id = $claimant ORDER BY id DESC LIMIT 21"
check "orders: area subtree and status" "SELECT * FROM service_order WHERE area_id IN ($subtree) AND status = 'PENDING' ORDER BY id DESC LIMIT 21"
check "orders: mine" "SELECT * FROM service_order WHERE resident_id = $resident ORDER BY id DESC LIMIT 21"
check "orders: assigned to me" "SELECT * FROM service_order WHERE assignee_id = $assignee ORDER BY id DESC LIMIT 21"
check "points: history" "SELECT * FROM point_entry WHERE user_id = $member ORDER BY id DESC LIMIT 21"
check "org: members of an organisation" "SELECT * FROM party_member WHERE party_org_id = $org AND status = 'ACTIVE' ORDER BY id DESC LIMIT 21"
exit $failed
