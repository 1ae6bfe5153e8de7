//! Leaderboards: Redis sorted sets derived from the ledger, one per scope (an area, a party
//! organisation) and period (the current month, the current year, all time). Updated after the
//! award's transaction commits; `rebuild` recomputes them all from the ledger.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use entity::party_member::{self, MemberStatus};
use entity::{area, party_org, point_entry, users};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QuerySelect, RelationTrait,
};

use super::ledger::{local_offset, period_starts, sum_since};
use crate::error::AppResult;
use crate::store::Store;

/// All board keys start with this (after the store's own prefix).
pub const PREFIX: &str = "lb:";
/// Set once a rebuild has filled the boards; missing after Redis lost its data.
pub const BUILT_MARKER: &str = "lb-built";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Area(i64),
    PartyOrg(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum Period {
    /// The current calendar month, Asia/Shanghai.
    Month,
    /// The current calendar year, Asia/Shanghai.
    Year,
    /// Since the beginning.
    All,
}

/// The board key of a scope and period at time `at`. The scope is the hash tag, so every board
/// of one scope lives on one Redis Cluster slot.
pub fn key(scope: Scope, period: Period, at: DateTime<Utc>) -> String {
    let tag = match scope {
        Scope::Area(id) => format!("area:{id}"),
        Scope::PartyOrg(id) => format!("org:{id}"),
    };
    let local = at.with_timezone(&local_offset());
    let period = match period {
        Period::Month => format!("m{:04}{:02}", local.year(), local.month()),
        Period::Year => format!("y{:04}", local.year()),
        Period::All => "all".to_owned(),
    };
    format!("{PREFIX}{{{tag}}}:{period}")
}

fn ids_in_path(path: &str) -> impl Iterator<Item = i64> + '_ {
    path.split('/').filter_map(|part| part.parse().ok())
}

/// The scopes each user counts in: every area at or above their home (or, without a home, above
/// their party organisation's area), and every organisation at or above their own while they
/// are an ACTIVE member. `only` limits the users; None means everyone with ledger entries.
pub async fn scopes_of(
    db: &impl ConnectionTrait,
    only: Option<&[i64]>,
) -> AppResult<HashMap<i64, Vec<Scope>>> {
    let with_entries = Query::select()
        .distinct()
        .column(point_entry::Column::UserId)
        .from(point_entry::Entity)
        .to_owned();
    let mut homes = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(area::Column::Path)
        .join(JoinType::InnerJoin, users::Relation::Home.def());
    let mut members = party_member::Entity::find()
        .select_only()
        .column(party_member::Column::UserId)
        .column(party_org::Column::Path)
        .column(party_org::Column::AreaId)
        .join(JoinType::InnerJoin, party_member::Relation::PartyOrg.def())
        .filter(party_member::Column::Status.eq(MemberStatus::Active));
    match only {
        Some(ids) => {
            homes = homes.filter(users::Column::Id.is_in(ids.iter().copied()));
            members = members.filter(party_member::Column::UserId.is_in(ids.iter().copied()));
        }
        None => {
            homes = homes.filter(
                Expr::col((users::Entity, users::Column::Id)).in_subquery(with_entries.clone()),
            );
            members = members.filter(
                Expr::col((party_member::Entity, party_member::Column::UserId))
                    .in_subquery(with_entries),
            );
        }
    }
    let homes: Vec<(i64, String)> = homes.into_tuple().all(db).await?;
    let members: Vec<(i64, String, i64)> = members.into_tuple().all(db).await?;

    let mut scopes: HashMap<i64, Vec<Scope>> = HashMap::new();
    for (user, path) in &homes {
        scopes
            .entry(*user)
            .or_default()
            .extend(ids_in_path(path).map(Scope::Area));
    }
    let homeless_org_areas: Vec<i64> = members
        .iter()
        .filter(|(u, _, _)| !scopes.contains_key(u))
        .map(|(_, _, area)| *area)
        .collect();
    let org_area_paths: HashMap<i64, String> = if homeless_org_areas.is_empty() {
        HashMap::new()
    } else {
        area::Entity::find()
            .select_only()
            .column(area::Column::Id)
            .column(area::Column::Path)
            .filter(area::Column::Id.is_in(homeless_org_areas))
            .into_tuple::<(i64, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    for (user, org_path, org_area) in &members {
        let entry = scopes.entry(*user).or_default();
        if entry.iter().all(|s| !matches!(s, Scope::Area(_)))
            && let Some(path) = org_area_paths.get(org_area)
        {
            entry.extend(ids_in_path(path).map(Scope::Area));
        }
        entry.extend(ids_in_path(org_path).map(Scope::PartyOrg));
    }
    Ok(scopes)
}

/// The user's own most specific area scope, where `myPoints.rank` is counted.
pub fn home_scope(scopes: &[Scope]) -> Option<Scope> {
    scopes
        .iter()
        .rev()
        .find(|s| matches!(s, Scope::Area(_)))
        .copied()
}

/// Adds freshly committed entries to the boards. A store failure is logged, not returned: the
/// ledger already holds the award and `emulin points rebuild` brings the boards back.
pub async fn record(db: &DatabaseConnection, store: &dyn Store, entries: &[point_entry::Model]) {
    if entries.is_empty() {
        return;
    }
    let users: Vec<i64> = entries.iter().map(|e| e.user_id).collect();
    let scopes = match scopes_of(db, Some(&users)).await {
        Ok(scopes) => scopes,
        Err(err) => {
            tracing::warn!(error = %err, "leaderboards not updated: scopes could not be read");
            return;
        }
    };
    let mut ops = Vec::new();
    for entry in entries {
        for scope in scopes
            .get(&entry.user_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            for period in [Period::Month, Period::Year, Period::All] {
                ops.push((
                    key(*scope, period, entry.created_at),
                    entry.user_id.to_string(),
                    f64::from(entry.delta),
                ));
            }
        }
    }
    if let Err(err) = store.zincr_many(&ops).await {
        tracing::warn!(error = %err, "leaderboards not updated; run `emulin points rebuild` once the store is back");
    }
}

#[derive(FromQueryResult)]
struct Totals {
    user_id: i64,
    all: i64,
    year: i64,
    month: i64,
}

/// Recomputes every board from the ledger and replaces what the store holds. Answers the number
/// of boards written.
pub async fn rebuild(db: &DatabaseConnection, store: &dyn Store) -> anyhow::Result<usize> {
    let now = Utc::now();
    let (_, month_start, year_start) = period_starts(now);
    let backend = db.get_database_backend();
    let query = Query::select()
        .column(point_entry::Column::UserId)
        .expr_as(sum_since(None), "all")
        .expr_as(sum_since(Some(year_start)), "year")
        .expr_as(sum_since(Some(month_start)), "month")
        .from(point_entry::Entity)
        .group_by_col(point_entry::Column::UserId)
        .to_owned();
    let totals = Totals::find_by_statement(backend.build(&query))
        .all(db)
        .await?;
    let scopes = scopes_of(db, None).await?;

    let mut boards: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    for t in &totals {
        let member = t.user_id.to_string();
        for scope in scopes
            .get(&t.user_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            for (period, points) in [
                (Period::All, t.all),
                (Period::Year, t.year),
                (Period::Month, t.month),
            ] {
                boards
                    .entry(key(*scope, period, now))
                    .or_default()
                    .push((member.clone(), points as f64));
            }
        }
    }
    let count = boards.len();
    store
        .replace_sorted_sets(PREFIX, boards.into_iter().collect())
        .await?;
    store.set(BUILT_MARKER, &now.to_rfc3339()).await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_carry_the_scope_as_hash_tag_and_the_local_period() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 17, 0, 0).unwrap(); // 2027-01-01 01:00 in Shanghai
        assert_eq!(
            key(Scope::Area(12), Period::Month, at),
            "lb:{area:12}:m202701"
        );
        assert_eq!(
            key(Scope::PartyOrg(3), Period::Year, at),
            "lb:{org:3}:y2027"
        );
        assert_eq!(key(Scope::Area(1), Period::All, at), "lb:{area:1}:all");
    }
}
