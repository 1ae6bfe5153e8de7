//! Points (积分): the ledger, the rules, manual awards and the leaderboards.

pub mod boards;
pub mod ledger;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::Utc;
use entity::loader::{RequestLoader, UserById};
use entity::point_entry::{self, PointAction};
use entity::role_grant::Role;
use entity::{party_member, party_org, point_rule, users};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use self::boards::{Period, Scope};
use self::ledger::{Award, Outcome, period_starts};
use crate::auth::viewer;
use crate::error::{AppError, AppResult, check_text, parse_id};
use crate::org::{find_area, find_party_org};
use crate::pagination::{Page, PageArgs, connection};
use crate::state::AppState;

const MAX_REASON: usize = 200;
const MAX_SOURCE_KEY: usize = 128;
const MAX_DELTA: i32 = 10_000;
const MAX_RULE_POINTS: i32 = 1_000;

/// Whose board: exactly one of an area (and everything under it) or a party organisation.
#[derive(InputObject)]
pub struct LeaderboardScope {
    pub area_id: Option<ID>,
    pub party_org_id: Option<ID>,
}

/// One place on a leaderboard.
#[derive(SimpleObject)]
pub struct LeaderboardEntry {
    /// 1 for the highest points.
    pub rank: i32,
    pub points: i64,
    pub user: users::Model,
}

/// A manual award or correction.
#[derive(InputObject)]
pub struct AwardPointsInput {
    pub user_id: ID,
    /// Non-zero; negative for a correction.
    pub delta: i32,
    /// 1..200 characters.
    pub reason: String,
    /// Unique per user: giving the same key again returns the first entry and counts nothing.
    pub source_key: String,
}

/// The signed-in user's points.
pub struct MyPoints {
    user_id: i64,
    total: i64,
    this_month: i64,
    this_year: i64,
    rank: Option<i32>,
    /// How many ledger entries the user has: the history's totalCount, read with the sums.
    entries: u64,
}

#[Object]
impl MyPoints {
    /// All points ever earned, corrections included.
    async fn total(&self) -> i64 {
        self.total
    }

    /// Points earned in the current calendar month (Asia/Shanghai).
    async fn this_month(&self) -> i64 {
        self.this_month
    }

    /// Points earned in the current calendar year (Asia/Shanghai).
    async fn this_year(&self) -> i64 {
        self.this_year
    }

    /// Rank on the all-time board of the user's home area; null when not ranked (no points yet,
    /// or the boards are being rebuilt).
    async fn rank(&self) -> Option<i32> {
        self.rank
    }

    /// Ledger entries, newest first.
    async fn history(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<Page<point_entry::Model>> {
        let state = ctx.data_unchecked::<AppState>();
        let args = PageArgs::parse(first, after)?;
        let filter =
            point_entry::Entity::find().filter(point_entry::Column::UserId.eq(self.user_id));
        let total = self.entries;
        let mut page = filter
            .order_by_desc(point_entry::Column::Id)
            .limit(args.limit());
        if let Some(before) = args.before_id {
            page = page.filter(point_entry::Column::Id.lt(before));
        }
        Ok(connection(page.all(&state.db).await?, &args, total, |e| {
            e.id
        }))
    }
}

#[derive(FromQueryResult)]
struct Sums {
    total: i64,
    year: i64,
    month: i64,
    entries: i64,
}

#[derive(Default)]
pub struct PointsQuery;

#[Object]
impl PointsQuery {
    /// The signed-in user's points, from the ledger.
    async fn my_points(&self, ctx: &Context<'_>) -> AppResult<MyPoints> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let now = Utc::now();
        let (_, month_start, year_start) = period_starts(now);
        let query = Query::select()
            .expr_as(ledger::sum_since(None), "total")
            .expr_as(ledger::sum_since(Some(year_start)), "year")
            .expr_as(ledger::sum_since(Some(month_start)), "month")
            .expr_as(Expr::col(point_entry::Column::Id).count(), "entries")
            .from(point_entry::Entity)
            .and_where(Expr::col(point_entry::Column::UserId).eq(viewer.user_id))
            .to_owned();
        let backend = state.db.get_database_backend();
        // The sums and the user's boards are independent: read them side by side.
        let me = [viewer.user_id];
        let (sums, scopes) = tokio::try_join!(
            async {
                Ok::<_, AppError>(
                    Sums::find_by_statement(backend.build(&query))
                        .one(&state.db)
                        .await?,
                )
            },
            boards::scopes_of(&state.db, Some(&me)),
        )?;
        let (total, this_year, this_month, entries) = sums
            .map(|s| (s.total, s.year, s.month, s.entries))
            .unwrap_or_default();
        let rank = match scopes
            .get(&viewer.user_id)
            .and_then(|s| boards::home_scope(s))
        {
            Some(scope) => match state
                .store
                .zrank_desc(
                    &boards::key(scope, Period::All, now),
                    &viewer.user_id.to_string(),
                )
                .await
            {
                Ok(rank) => rank.map(|r| r as i32 + 1),
                Err(err) => {
                    tracing::warn!(error = %err, "rank unavailable");
                    None
                }
            },
            None => None,
        };
        Ok(MyPoints {
            user_id: viewer.user_id,
            total,
            this_month,
            this_year,
            rank,
            entries: u64::try_from(entries).unwrap_or(0),
        })
    }

    /// The highest-scoring users of an area (its whole subtree) or a party organisation.
    async fn leaderboard(
        &self,
        ctx: &Context<'_>,
        scope: LeaderboardScope,
        period: Period,
        first: Option<i32>,
    ) -> AppResult<Vec<LeaderboardEntry>> {
        viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let first = PageArgs::parse(first, None)?.first as usize;
        let scope = match (&scope.area_id, &scope.party_org_id) {
            (Some(id), None) => Scope::Area(parse_id(id, "area")?),
            (None, Some(id)) => Scope::PartyOrg(parse_id(id, "party organisation")?),
            _ => {
                return Err(AppError::bad_input(
                    "give exactly one of areaId and partyOrgId",
                ));
            }
        };
        let top = state
            .store
            .ztop(&boards::key(scope, period, Utc::now()), first)
            .await
            .map_err(|err| {
                tracing::warn!(error = %err, "leaderboard unavailable");
                AppError::Unavailable("the leaderboard is unavailable; try again".into())
            })?;
        // A board is one sorted-set read and one batched user load. Only an empty board may
        // belong to an area or organisation that does not exist, so only then is it looked up.
        if top.is_empty() {
            match scope {
                Scope::Area(id) => {
                    find_area(&state.db, id).await?;
                }
                Scope::PartyOrg(id) => {
                    find_party_org(&state.db, id).await?;
                }
            }
            return Ok(Vec::new());
        }
        let ids = top.iter().filter_map(|(m, _)| m.parse().ok()).map(UserById);
        let mut found = ctx
            .data_unchecked::<RequestLoader>()
            .load_many(ids)
            .await
            .map_err(|err| AppError::internal(anyhow::anyhow!(err)))?;
        Ok(top
            .into_iter()
            .enumerate()
            .filter_map(|(i, (member, points))| {
                let user = found.remove(&UserById(member.parse().ok()?))?;
                Some(LeaderboardEntry {
                    rank: i as i32 + 1,
                    points: points as i64,
                    user,
                })
            })
            .collect())
    }

    /// Points per action and their daily caps.
    async fn point_rules(&self, ctx: &Context<'_>) -> AppResult<Vec<point_rule::Model>> {
        viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        Ok(point_rule::Entity::find()
            .order_by_asc(point_rule::Column::Action)
            .all(&state.db)
            .await?)
    }
}

#[derive(Default)]
pub struct PointsMutation;

#[Object]
impl PointsMutation {
    /// Sets the points an action earns and its daily cap per user (null: no cap). DISTRICT_ADMIN
    /// only.
    async fn set_point_rule(
        &self,
        ctx: &Context<'_>,
        action: PointAction,
        points: i32,
        daily_cap: Option<i32>,
    ) -> AppResult<point_rule::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let root = crate::db::root_area(&state.db).await?;
        viewer
            .require_role_over(&state.db, &root.path, Role::DistrictAdmin)
            .await?;
        if !(0..=MAX_RULE_POINTS).contains(&points) {
            return Err(AppError::bad_input(format!(
                "points must be between 0 and {MAX_RULE_POINTS}"
            )));
        }
        if daily_cap.is_some_and(|cap| !(1..=1_000).contains(&cap)) {
            return Err(AppError::bad_input(
                "dailyCap must be between 1 and 1000, or null",
            ));
        }
        let rule = point_rule::ActiveModel {
            action: Set(action),
            points: Set(points),
            daily_cap: Set(daily_cap),
            updated_by: Set(Some(viewer.user_id)),
            updated_at: Set(Utc::now()),
        };
        let saved = match point_rule::Entity::find_by_id(action)
            .one(&state.db)
            .await?
        {
            Some(_) => rule.update(&state.db).await?,
            None => rule.insert(&state.db).await?,
        };
        tracing::info!(
            actor = viewer.user_id,
            ?action,
            points,
            ?daily_cap,
            "point rule set"
        );
        crate::audit::record(
            &state.db,
            Some(viewer.user_id),
            "points.rule",
            "point_rule",
            action.to_value(),
            serde_json::json!({ "points": points, "dailyCap": daily_cap }),
        )
        .await?;
        Ok(saved)
    }

    /// Awards or corrects points by hand. Admins (COMMUNITY_ADMIN and above) whose scope covers
    /// the user's home or party organisation. The same (userId, sourceKey) again returns the
    /// first entry and counts nothing.
    async fn award_points(
        &self,
        ctx: &Context<'_>,
        input: AwardPointsInput,
    ) -> AppResult<point_entry::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let reason = check_text("reason", &input.reason, MAX_REASON)?;
        let source_key = check_text("sourceKey", &input.source_key, MAX_SOURCE_KEY)?;
        if input.delta == 0 || input.delta.unsigned_abs() > MAX_DELTA.unsigned_abs() {
            return Err(AppError::bad_input(format!(
                "delta must be non-zero and at most {MAX_DELTA} either way"
            )));
        }
        let user = users::Entity::find_by_id(parse_id(&input.user_id, "user")?)
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("user"))?;
        require_admin_over_user(state, viewer, &user).await?;

        let txn = state.db.begin().await?;
        let outcome = ledger::award(
            &txn,
            Award {
                user_id: user.id,
                delta: input.delta,
                reason: &reason,
                action: None,
                source_key: &source_key,
                actor_id: Some(viewer.user_id),
            },
        )
        .await?;
        if let Outcome::Created(entry) = &outcome {
            let action = if entry.delta < 0 {
                "points.correct"
            } else {
                "points.award"
            };
            crate::audit::record(
                &txn,
                Some(viewer.user_id),
                action,
                "user",
                user.id,
                serde_json::json!({ "delta": entry.delta, "entry": entry.id, "sourceKey": entry.source_key }),
            )
            .await?;
        }
        txn.commit().await?;
        match outcome {
            Outcome::Created(entry) => {
                tracing::info!(
                    actor = viewer.user_id,
                    user = user.id,
                    delta = entry.delta,
                    "points awarded"
                );
                boards::record(
                    &state.db,
                    state.store.as_ref(),
                    std::slice::from_ref(&entry),
                )
                .await;
                Ok(entry)
            }
            Outcome::Existing(entry) => Ok(entry),
            Outcome::Skipped => Err(AppError::internal(anyhow::anyhow!("manual award skipped"))),
        }
    }
}

/// An admin may touch a user's points when their scope covers the user's home or the area of the
/// user's party organisation.
async fn require_admin_over_user(
    state: &AppState,
    viewer: &crate::auth::Viewer,
    user: &users::Model,
) -> AppResult<()> {
    let mut paths = Vec::new();
    if let Some(home) = user.home_area_id {
        paths.push(find_area(&state.db, home).await?.path);
    }
    if let Some(member) = party_member::Entity::find()
        .filter(party_member::Column::UserId.eq(user.id))
        .one(&state.db)
        .await?
    {
        let org = party_org::Entity::find_by_id(member.party_org_id)
            .one(&state.db)
            .await?;
        if let Some(org) = org {
            paths.push(find_area(&state.db, org.area_id).await?.path);
        }
    }
    for path in &paths {
        if viewer
            .require_role_over(&state.db, path, Role::CommunityAdmin)
            .await
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(AppError::forbidden("this user is outside your scope"))
}

/// Awards the rule's points for an action inside `txn`; answers the entry to put on the boards
/// once the transaction commits.
pub async fn award_for_action(
    txn: &impl ConnectionTrait,
    user_id: i64,
    action: PointAction,
    reason: &str,
    source_key: &str,
    actor_id: Option<i64>,
) -> AppResult<Option<point_entry::Model>> {
    let points = ledger::rule_points(txn, action).await?;
    let outcome = ledger::award(
        txn,
        Award {
            user_id,
            delta: points,
            reason,
            action: Some(action),
            source_key,
            actor_id,
        },
    )
    .await?;
    Ok(match outcome {
        Outcome::Created(entry) => Some(entry),
        Outcome::Existing(_) | Outcome::Skipped => None,
    })
}
