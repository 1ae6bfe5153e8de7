//! 微心愿: residents' small wishes, taken on by party members and volunteers.
//!
//! Every transition is one conditional UPDATE on the current status plus an event row, in one
//! transaction: of any number of concurrent claims (on any number of nodes) exactly one updates a
//! row; the others find zero rows affected and get CONFLICT.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;
use entity::area;
use entity::point_entry::PointAction;
use entity::wish::{self, WishCategory, WishStatus};
use entity::wish_event::{self, WishAction};
use entity::wish_image;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};

use crate::auth::{Viewer, viewer};
use crate::error::{AppError, AppResult, check_text, parse_id};
use crate::live::Topic;
use crate::media;
use crate::moderation::{self, Scene};
use crate::notify::{self, Notice};
use crate::org::find_area;
use crate::pagination::{Page, PageArgs, connection, total_count, total_count_kept};
use crate::points;
use crate::state::AppState;
use entity::loader::{AreaById, RequestLoader, UserById};

const MAX_TITLE: usize = 60;
const MAX_DESCRIPTION: usize = 1000;
const MAX_NOTE: usize = 200;

/// A new wish.
#[derive(InputObject)]
pub struct PostWishInput {
    /// 1..60 characters.
    pub title: String,
    /// 1..1000 characters.
    pub description: String,
    pub category: WishCategory,
    /// Images from `POST /upload`, at most 9, each an upload of the poster; shown in this order.
    pub image_ids: Option<Vec<ID>>,
}

/// Narrows the wish feed; all given conditions apply together.
#[derive(InputObject, Default)]
pub struct WishFilter {
    pub status: Option<WishStatus>,
    /// Wishes of this area and everything under it.
    pub area_id: Option<ID>,
    /// Only wishes the signed-in user posted.
    pub mine: Option<bool>,
    /// Only wishes the signed-in user has claimed.
    pub claimed_by_me: Option<bool>,
    /// Only wishes content security flagged for review (true) or not flagged (false).
    pub needs_review: Option<bool>,
}

#[derive(Default)]
pub struct WishesQuery;

#[Object]
impl WishesQuery {
    /// The wish feed, newest first.
    async fn wishes(
        &self,
        ctx: &Context<'_>,
        filter: Option<WishFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<Page<wish::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let args = PageArgs::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let mut query = wish::Entity::find();
        if let Some(status) = filter.status {
            query = query.filter(wish::Column::Status.eq(status));
        }
        if let Some(area_id) = &filter.area_id {
            let area = find_area(&state.db, parse_id(area_id, "area")?).await?;
            let subtree = Query::select()
                .column(area::Column::Id)
                .from(area::Entity)
                .and_where(Expr::col(area::Column::Path).like(format!("{}%", area.path)))
                .to_owned();
            query =
                query.filter(Expr::col((wish::Entity, wish::Column::AreaId)).in_subquery(subtree));
        }
        if filter.mine == Some(true) {
            query = query.filter(wish::Column::PosterId.eq(viewer.user_id));
        }
        if filter.claimed_by_me == Some(true) {
            query = query.filter(wish::Column::ClaimantId.eq(viewer.user_id));
        }
        if let Some(flagged) = filter.needs_review {
            query = query.filter(wish::Column::NeedsReview.eq(flagged));
        }
        // Lists that do not depend on the viewer are the same for everyone: their count is kept.
        let shared = filter.mine != Some(true) && filter.claimed_by_me != Some(true);
        let total = if shared {
            let key = format!(
                "wish {:?} {:?} {:?}",
                filter.status, filter.area_id, filter.needs_review
            );
            total_count_kept(ctx, state, key, query.clone()).await?
        } else {
            total_count(ctx, query.clone(), &state.db).await?
        };
        let mut page = query.order_by_desc(wish::Column::Id).limit(args.limit());
        if let Some(before) = args.before_id {
            page = page.filter(wish::Column::Id.lt(before));
        }
        let rows = page.all(&state.db).await?;
        prefetch(ctx, &rows).await?;
        Ok(connection(rows, &args, total, |w| w.id))
    }

    /// One wish with its history.
    async fn wish(&self, ctx: &Context<'_>, id: ID) -> AppResult<wish::Model> {
        viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        find_wish(&state.db, parse_id(&id, "wish")?).await
    }
}

#[derive(Default)]
pub struct WishesMutation;

#[Object]
impl WishesMutation {
    /// Posts a wish in the poster's home area. The poster must have bound a home. Text content
    /// security rejects is BAD_USER_INPUT; text it wants reviewed is posted with `needsReview`.
    /// An image id that is not the poster's upload is BAD_USER_INPUT.
    async fn post_wish(&self, ctx: &Context<'_>, input: PostWishInput) -> AppResult<wish::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let title = check_text("title", &input.title, MAX_TITLE)?;
        let description = check_text("description", &input.description, MAX_DESCRIPTION)?;
        let poster = crate::identity::load_user(&state.db, viewer.user_id).await?;
        let Some(home) = poster.home_area_id else {
            return Err(AppError::bad_input("bind your home before posting a wish"));
        };
        let images = media::owned_images(&state.db, poster.id, input.image_ids.as_deref()).await?;
        let verdict =
            moderation::check(state, &poster, Scene::Forum, &[&title, &description]).await?;
        let now = Utc::now();
        let txn = state.db.begin().await?;
        let wish = wish::ActiveModel {
            poster_id: Set(poster.id),
            area_id: Set(home),
            title: Set(title),
            description: Set(description),
            category: Set(input.category),
            status: Set(WishStatus::Open),
            claimant_id: Set(None),
            needs_review: Set(verdict.needs_review()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        if !images.is_empty() {
            wish_image::Entity::insert_many(images.iter().zip(0..).map(|(upload, position)| {
                wish_image::ActiveModel {
                    wish_id: Set(wish.id),
                    position: Set(position),
                    upload_id: Set(*upload),
                }
            }))
            .exec(&txn)
            .await?;
        }
        record_event(
            &txn,
            wish.id,
            poster.id,
            WishAction::Posted,
            None,
            WishStatus::Open,
            None,
        )
        .await?;
        txn.commit().await?;
        state.changed(Topic::Wish(wish.id)).await;
        Ok(wish)
    }

    /// Takes a wish on: OPEN -> CLAIMED. Only an ACTIVE party member or a VOLUNTEER, and never
    /// on one's own wish. Of many concurrent claims exactly one wins; the rest get CONFLICT.
    async fn claim_wish(&self, ctx: &Context<'_>, id: ID) -> AppResult<wish::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let wish = find_wish(&state.db, parse_id(&id, "wish")?).await?;
        if wish.poster_id == viewer.user_id {
            return Err(AppError::forbidden("you cannot claim your own wish"));
        }
        if !crate::org::is_volunteer_or_active_member(&state.db, viewer.user_id).await? {
            return Err(AppError::forbidden(
                "only active party members and volunteers may claim wishes",
            ));
        }
        let change = Change {
            from: WishStatus::Open,
            to: WishStatus::Claimed,
            action: WishAction::Claimed,
            flag_review: false,
        };
        transition(
            state,
            viewer,
            &wish,
            change,
            None,
            Claimant::Set(viewer.user_id),
        )
        .await
    }

    /// Gives a claimed wish back: CLAIMED -> OPEN. The claimant only.
    async fn release_wish(&self, ctx: &Context<'_>, id: ID) -> AppResult<wish::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let wish = find_wish(&state.db, parse_id(&id, "wish")?).await?;
        require_claimant(&wish, viewer)?;
        let change = Change {
            from: WishStatus::Claimed,
            to: WishStatus::Open,
            action: WishAction::Released,
            flag_review: false,
        };
        transition(state, viewer, &wish, change, None, Claimant::Clear).await
    }

    /// The claimant says it is done: CLAIMED -> FULFILLED, with an optional note (≤ 200). A note
    /// content security rejects is BAD_USER_INPUT.
    async fn fulfill_wish(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> AppResult<wish::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let note = note.map(|n| check_text("note", &n, MAX_NOTE)).transpose()?;
        let wish = find_wish(&state.db, parse_id(&id, "wish")?).await?;
        require_claimant(&wish, viewer)?;
        let verdict = match &note {
            Some(note) => {
                moderation::check_user(state, viewer.user_id, Scene::Comment, &[note]).await?
            }
            None => moderation::Verdict::Pass,
        };
        let change = Change {
            from: WishStatus::Claimed,
            to: WishStatus::Fulfilled,
            action: WishAction::Fulfilled,
            flag_review: verdict.needs_review(),
        };
        transition(state, viewer, &wish, change, note, Claimant::Keep).await
    }

    /// The poster confirms: FULFILLED -> CONFIRMED, and the claimant earns the WISH_FULFILLED
    /// points, once.
    async fn confirm_wish(&self, ctx: &Context<'_>, id: ID) -> AppResult<wish::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let wish = find_wish(&state.db, parse_id(&id, "wish")?).await?;
        require_poster(&wish, viewer)?;
        let change = Change {
            from: WishStatus::Fulfilled,
            to: WishStatus::Confirmed,
            action: WishAction::Confirmed,
            flag_review: false,
        };
        transition(state, viewer, &wish, change, None, Claimant::Keep).await
    }

    /// The poster withdraws an OPEN wish: OPEN -> CANCELLED.
    async fn cancel_wish(&self, ctx: &Context<'_>, id: ID) -> AppResult<wish::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let wish = find_wish(&state.db, parse_id(&id, "wish")?).await?;
        require_poster(&wish, viewer)?;
        let change = Change {
            from: WishStatus::Open,
            to: WishStatus::Cancelled,
            action: WishAction::Cancelled,
            flag_review: false,
        };
        transition(state, viewer, &wish, change, None, Claimant::Keep).await
    }
}

struct Change {
    from: WishStatus,
    to: WishStatus,
    action: WishAction,
    /// Content security asked for a review of the step's note.
    flag_review: bool,
}

enum Claimant {
    Keep,
    Set(i64),
    Clear,
}

/// Applies one transition: a conditional UPDATE on the expected status (and claimant), the event
/// row, and for a confirmation the claimant's award, all in one transaction. Zero rows updated
/// means the wish moved on meanwhile: CONFLICT, nothing written. Live subscribers hear of it once
/// it has committed.
async fn transition(
    state: &AppState,
    viewer: &Viewer,
    wish: &wish::Model,
    change: Change,
    note: Option<String>,
    claimant: Claimant,
) -> AppResult<wish::Model> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let mut update = wish::Entity::update_many()
        .col_expr(wish::Column::Status, Expr::value(change.to))
        .col_expr(wish::Column::UpdatedAt, Expr::value(now))
        .filter(wish::Column::Id.eq(wish.id))
        .filter(wish::Column::Status.eq(change.from));
    if change.flag_review {
        update = update.col_expr(wish::Column::NeedsReview, Expr::value(true));
    }
    match claimant {
        Claimant::Keep => {}
        Claimant::Set(user) => {
            update = update.col_expr(wish::Column::ClaimantId, Expr::value(user))
        }
        Claimant::Clear => {
            update = update.col_expr(wish::Column::ClaimantId, Expr::value(Option::<i64>::None))
        }
    }
    if matches!(change.action, WishAction::Released | WishAction::Fulfilled) {
        update = update.filter(wish::Column::ClaimantId.eq(viewer.user_id));
    }
    if update.exec(&txn).await?.rows_affected == 0 {
        return Err(AppError::conflict(format!(
            "the wish is {:?}, not {:?}; reload it",
            current_status(&txn, wish.id).await?,
            change.from
        )));
    }
    record_event(
        &txn,
        wish.id,
        viewer.user_id,
        change.action,
        Some(change.from),
        change.to,
        note,
    )
    .await?;
    let mut awarded = None;
    if change.action == WishAction::Confirmed
        && let Some(claimant) = wish.claimant_id
    {
        awarded = points::award_for_action(
            &txn,
            claimant,
            PointAction::WishFulfilled,
            &format!("微心愿「{}」", wish.title),
            &format!("wish:{}:confirm", wish.id),
            Some(viewer.user_id),
        )
        .await?;
    }
    let word = match change.action {
        WishAction::Claimed => Some("已认领"),
        WishAction::Fulfilled => Some("已完成"),
        _ => None,
    };
    if let Some(word) = word {
        notify::enqueue(&txn, state, Notice::wish(wish.poster_id, wish, word)).await?;
    }
    txn.commit().await?;
    state.changed(Topic::Wish(wish.id)).await;
    if let Some(entry) = awarded {
        points::boards::record(
            &state.db,
            state.store.as_ref(),
            std::slice::from_ref(&entry),
        )
        .await;
    }
    find_wish(&state.db, wish.id).await
}

/// Loads a page's areas, and its posters and claimants, in one batch each before the fields
/// ask for them one by one: the loader's short collection window could otherwise split a long
/// page over several statements.
async fn prefetch(ctx: &Context<'_>, rows: &[wish::Model]) -> AppResult<()> {
    let node = ctx.look_ahead().field("edges").field("node");
    let loader = ctx.data_unchecked::<RequestLoader>();
    let areas = async {
        if node.field("area").exists() {
            loader
                .load_many(rows.iter().map(|w| AreaById(w.area_id)))
                .await?;
        }
        Ok::<_, Arc<sea_orm::DbErr>>(())
    };
    let people = async {
        let mut ids = Vec::new();
        if node.field("poster").exists() {
            ids.extend(rows.iter().map(|w| UserById(w.poster_id)));
        }
        if node.field("claimant").exists() {
            ids.extend(rows.iter().filter_map(|w| w.claimant_id.map(UserById)));
        }
        if !ids.is_empty() {
            loader.load_many(ids).await?;
        }
        Ok(())
    };
    tokio::try_join!(areas, people).map_err(|err| AppError::internal(anyhow::anyhow!(err)))?;
    Ok(())
}

async fn current_status(db: &impl ConnectionTrait, id: i64) -> AppResult<WishStatus> {
    wish::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|w| w.status)
        .ok_or_else(|| AppError::not_found("wish"))
}

async fn record_event(
    txn: &impl ConnectionTrait,
    wish_id: i64,
    actor_id: i64,
    action: WishAction,
    from_status: Option<WishStatus>,
    to_status: WishStatus,
    note: Option<String>,
) -> AppResult<()> {
    wish_event::ActiveModel {
        wish_id: Set(wish_id),
        actor_id: Set(actor_id),
        action: Set(action),
        from_status: Set(from_status),
        to_status: Set(to_status),
        note: Set(note),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

async fn find_wish(db: &impl ConnectionTrait, id: i64) -> AppResult<wish::Model> {
    wish::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("wish"))
}

fn require_claimant(wish: &wish::Model, viewer: &Viewer) -> AppResult<()> {
    if wish.claimant_id == Some(viewer.user_id) {
        Ok(())
    } else {
        Err(AppError::forbidden("only the claimant may do this"))
    }
}

fn require_poster(wish: &wish::Model, viewer: &Viewer) -> AppResult<()> {
    if wish.poster_id == viewer.user_id {
        Ok(())
    } else {
        Err(AppError::forbidden("only the poster may do this"))
    }
}
