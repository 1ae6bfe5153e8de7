//! The points ledger: the truth behind every total and board. Awards are idempotent per
//! (user, source key) and capped per user, action and day, both decided inside the caller's
//! transaction.

use chrono::{DateTime, Datelike, FixedOffset, Offset, TimeZone, Utc};
use entity::point_entry::{self, PointAction};
use entity::{point_rule, users};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};

use crate::error::{AppError, AppResult, on_unique};

/// Days and months of the district: Asia/Shanghai, UTC+8 all year.
pub fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// The start of the local day, month and year containing `at`, in UTC.
pub fn period_starts(at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    let tz = local_offset();
    let local = at.with_timezone(&tz);
    let at_midnight = |y, m, d| {
        tz.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(at)
    };
    (
        at_midnight(local.year(), local.month(), local.day()),
        at_midnight(local.year(), local.month(), 1),
        at_midnight(local.year(), 1, 1),
    )
}

pub struct Award<'a> {
    pub user_id: i64,
    pub delta: i32,
    pub reason: &'a str,
    pub action: Option<PointAction>,
    pub source_key: &'a str,
    pub actor_id: Option<i64>,
}

pub enum Outcome {
    /// A new entry was written.
    Created(point_entry::Model),
    /// The source key was used before: the first entry, nothing more counted.
    Existing(point_entry::Model),
    /// The daily cap of the action is reached, or the rule gives no points: nothing written.
    Skipped,
}

/// Writes an award inside `txn`.
pub async fn award(txn: &impl ConnectionTrait, award: Award<'_>) -> AppResult<Outcome> {
    // Touching the user's row first serialises awards to one user: two awards at once cannot
    // both pass the cap or both miss each other's source key, on PostgreSQL and SQLite alike.
    let locked = users::Entity::update_many()
        .col_expr(
            users::Column::UpdatedAt,
            Expr::col(users::Column::UpdatedAt),
        )
        .filter(users::Column::Id.eq(award.user_id))
        .exec(txn)
        .await?;
    if locked.rows_affected == 0 {
        return Err(AppError::not_found("user"));
    }
    if let Some(existing) = find_by_source(txn, award.user_id, award.source_key).await? {
        return Ok(Outcome::Existing(existing));
    }
    let now = Utc::now();
    if let Some(action) = award.action {
        let rule = point_rule::Entity::find_by_id(action).one(txn).await?;
        if let Some(cap) = rule.and_then(|r| r.daily_cap) {
            let (day_start, _, _) = period_starts(now);
            let today = point_entry::Entity::find()
                .filter(point_entry::Column::UserId.eq(award.user_id))
                .filter(point_entry::Column::Action.eq(action))
                .filter(point_entry::Column::CreatedAt.gte(day_start))
                .count(txn)
                .await?;
            if today >= u64::try_from(cap).unwrap_or(0) {
                return Ok(Outcome::Skipped);
            }
        }
    }
    if award.delta == 0 {
        return Ok(Outcome::Skipped);
    }
    let entry = point_entry::ActiveModel {
        user_id: Set(award.user_id),
        delta: Set(award.delta),
        reason: Set(award.reason.to_owned()),
        action: Set(award.action),
        source_key: Set(award.source_key.to_owned()),
        actor_id: Set(award.actor_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(on_unique("this award was already given"))?;
    Ok(Outcome::Created(entry))
}

async fn find_by_source(
    db: &impl ConnectionTrait,
    user_id: i64,
    source_key: &str,
) -> AppResult<Option<point_entry::Model>> {
    Ok(point_entry::Entity::find()
        .filter(point_entry::Column::UserId.eq(user_id))
        .filter(point_entry::Column::SourceKey.eq(source_key))
        .one(db)
        .await?)
}

/// `COALESCE(SUM(delta), 0)` over the entries created at or after `since` (all when None): the
/// totals of `myPoints` and of the board rebuild, computed by the database.
pub fn sum_since(since: Option<DateTime<Utc>>) -> Expr {
    let delta: Expr = match since {
        Some(at) => Expr::case(
            Expr::col((point_entry::Entity, point_entry::Column::CreatedAt)).gte(at),
            Expr::col((point_entry::Entity, point_entry::Column::Delta)),
        )
        .finally(0)
        .into(),
        None => Expr::col((point_entry::Entity, point_entry::Column::Delta)),
    };
    Func::coalesce([Expr::from(Func::sum(delta)), Expr::val(0)]).into()
}

/// Points of an action under the current rules.
pub async fn rule_points(db: &impl ConnectionTrait, action: PointAction) -> AppResult<i32> {
    Ok(point_rule::Entity::find_by_id(action)
        .one(db)
        .await?
        .map(|r| r.points)
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_shanghai_time() {
        // 2026-11-30 17:00 UTC is already 1 December in Shanghai.
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap();
        let (day, month, year) = period_starts(at);
        assert_eq!(day, Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap());
        assert_eq!(month, Utc.with_ymd_and_hms(2026, 11, 30, 16, 0, 0).unwrap());
        assert_eq!(year, Utc.with_ymd_and_hms(2025, 12, 31, 16, 0, 0).unwrap());
    }
}
