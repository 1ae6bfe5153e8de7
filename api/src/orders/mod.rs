//! 帮办代办 errands: 群众点单 -> 管家接单 -> 物业派单 -> 群众评单, and the catalogue they come from.
//!
//! As for wishes, every transition is one conditional UPDATE on the current status plus an event
//! row in one transaction; concurrent accepts give exactly one winner.

pub mod catalog;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;
use entity::order_event::{self, OrderAction};
use entity::order_image;
use entity::point_entry::PointAction;
use entity::role_grant::{self, Role};
use entity::service_order::{self, OrderStatus};
use entity::{area, service_item, users};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set, TransactionTrait,
};

use crate::auth::{Viewer, viewer};
use crate::error::{AppError, AppResult, check_text, parse_id};
use crate::live::Topic;
use crate::media;
use crate::moderation::{self, Scene, Verdict};
use crate::notify::{self, Notice};
use crate::org::find_area;
use crate::pagination::{Page, PageArgs, connection, total_count, total_count_kept};
use crate::points;
use crate::state::AppState;

const MAX_DESCRIPTION: usize = 500;
const MAX_REASON: usize = 200;
const MAX_NOTE: usize = 200;

/// Who may accept or reject an errand in their scope.
const HANDLERS: &[Role] = &[Role::Steward, Role::GridWorker];
/// Who may see every errand in their scope.
const OVERSEERS: &[Role] = &[
    Role::Steward,
    Role::GridWorker,
    Role::CommunityAdmin,
    Role::StreetAdmin,
    Role::DistrictAdmin,
];
/// Who an errand may be dispatched to.
const ASSIGNEES: &[Role] = &[Role::PropertyStaff, Role::Volunteer];

/// A new errand.
#[derive(InputObject)]
pub struct PlaceOrderInput {
    /// An item offered at the resident's home.
    pub service_item_id: ID,
    /// What is needed, 1..500 characters.
    pub description: String,
    /// A mainland mobile number (11 digits starting with 1), for the steward and the assignee.
    pub contact_phone: String,
    /// Images from `POST /upload`, at most 9, each an upload of the resident; shown in this order.
    pub image_ids: Option<Vec<ID>>,
}

/// Narrows the errand list; all given conditions apply together.
#[derive(InputObject, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// Errands of this area and everything under it (staff in scope only).
    pub area_id: Option<ID>,
    /// Only errands the signed-in user placed.
    pub mine: Option<bool>,
    /// Only errands dispatched to the signed-in user.
    pub assigned_to_me: Option<bool>,
}

/// A mainland mobile number: 11 digits, the first a 1, the second 3 to 9.
fn check_mobile(phone: &str) -> AppResult<String> {
    let phone: String = phone
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let bytes = phone.as_bytes();
    let valid = bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1]);
    if valid {
        Ok(phone)
    } else {
        Err(AppError::bad_input(
            "contactPhone must be a mainland mobile number",
        ))
    }
}

#[derive(Default)]
pub struct OrdersQuery;

#[Object]
impl OrdersQuery {
    /// Errands, newest first. Without `areaId`: those the signed-in user placed, accepted or was
    /// dispatched. With `areaId`: every errand under that area, for staff in scope.
    async fn orders(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrderFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<Page<service_order::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let args = PageArgs::parse(first, after)?;
        let filter = filter.unwrap_or_default();
        let mut query = service_order::Entity::find();
        if let Some(area_id) = &filter.area_id {
            let area = find_area(&state.db, parse_id(area_id, "area")?).await?;
            if !viewer
                .holds_any_over(&state.db, &area.path, OVERSEERS)
                .await?
            {
                return Err(AppError::forbidden("this area is outside your scope"));
            }
            let subtree = Query::select()
                .column(area::Column::Id)
                .from(area::Entity)
                .and_where(Expr::col(area::Column::Path).like(format!("{}%", area.path)))
                .to_owned();
            query = query.filter(
                Expr::col((service_order::Entity, service_order::Column::AreaId))
                    .in_subquery(subtree),
            );
        } else {
            query = query.filter(
                service_order::Column::ResidentId
                    .eq(viewer.user_id)
                    .or(service_order::Column::StewardId.eq(viewer.user_id))
                    .or(service_order::Column::AssigneeId.eq(viewer.user_id)),
            );
        }
        if let Some(status) = filter.status {
            query = query.filter(service_order::Column::Status.eq(status));
        }
        if filter.mine == Some(true) {
            query = query.filter(service_order::Column::ResidentId.eq(viewer.user_id));
        }
        if filter.assigned_to_me == Some(true) {
            query = query.filter(service_order::Column::AssigneeId.eq(viewer.user_id));
        }
        // An area's list is the same for all its overseers: its count is kept.
        let shared = filter.area_id.is_some()
            && filter.mine != Some(true)
            && filter.assigned_to_me != Some(true);
        let total = if shared {
            let key = format!("order {:?} {:?}", filter.status, filter.area_id);
            total_count_kept(ctx, state, key, query.clone()).await?
        } else {
            total_count(ctx, query.clone(), &state.db).await?
        };
        let mut page = query
            .order_by_desc(service_order::Column::Id)
            .limit(args.limit());
        if let Some(before) = args.before_id {
            page = page.filter(service_order::Column::Id.lt(before));
        }
        Ok(connection(page.all(&state.db).await?, &args, total, |o| {
            o.id
        }))
    }

    /// One errand: for its resident, steward and assignee, and for staff in scope.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let order = find_order(&state.db, parse_id(&id, "order")?).await?;
        require_visible(state, viewer, &order).await?;
        Ok(order)
    }
}

#[derive(Default)]
pub struct OrdersMutation;

#[Object]
impl OrdersMutation {
    /// 点单: a resident with a bound home orders an item offered there. A description content
    /// security rejects is BAD_USER_INPUT; one it wants reviewed is kept and flagged
    /// (`needsReview`), as is an errand whose reason, note or comment it wants reviewed. An image
    /// id that is not the resident's upload is BAD_USER_INPUT.
    async fn place_order(
        &self,
        ctx: &Context<'_>,
        input: PlaceOrderInput,
    ) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let description = check_text("description", &input.description, MAX_DESCRIPTION)?;
        let phone = check_mobile(&input.contact_phone)?;
        let resident = crate::identity::load_user(&state.db, viewer.user_id).await?;
        let Some(home_id) = resident.home_area_id else {
            return Err(AppError::bad_input(
                "bind your home before ordering an errand",
            ));
        };
        let item_id = parse_id(&input.service_item_id, "service item")?;
        let item = service_item::Entity::find_by_id(item_id)
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("service item"))?;
        let home = find_area(&state.db, home_id).await?;
        if !catalog::path_ids(&home.path).contains(&item.area_id) {
            return Err(AppError::bad_input("this item is not offered at your home"));
        }
        let images =
            media::owned_images(&state.db, resident.id, input.image_ids.as_deref()).await?;
        let verdict = moderation::check(state, &resident, Scene::Forum, &[&description]).await?;
        let now = Utc::now();
        let txn = state.db.begin().await?;
        let order = service_order::ActiveModel {
            resident_id: Set(resident.id),
            service_item_id: Set(item.id),
            area_id: Set(home.id),
            description: Set(description),
            contact_phone: Set(state.cipher.encrypt(&phone)?),
            contact_phone_masked: Set(entity::context::mask_phone(&phone)),
            status: Set(OrderStatus::Placed),
            needs_review: Set(verdict.needs_review()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        if !images.is_empty() {
            order_image::Entity::insert_many(images.iter().zip(0..).map(|(upload, position)| {
                order_image::ActiveModel {
                    order_id: Set(order.id),
                    position: Set(position),
                    upload_id: Set(*upload),
                }
            }))
            .exec(&txn)
            .await?;
        }
        record_event(
            &txn,
            order.id,
            resident.id,
            OrderAction::Placed,
            None,
            OrderStatus::Placed,
            None,
        )
        .await?;
        txn.commit().await?;
        state.changed(Topic::Order(order.id)).await;
        Ok(order)
    }

    /// 接单: a STEWARD or GRID_WORKER whose scope covers the errand takes it. Of concurrent
    /// accepts one wins; the rest get CONFLICT.
    async fn accept_order(&self, ctx: &Context<'_>, id: ID) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let order = find_order(&state.db, parse_id(&id, "order")?).await?;
        require_handler(state, viewer, &order).await?;
        let step = Step::new(
            &[OrderStatus::Placed],
            OrderStatus::Accepted,
            OrderAction::Accepted,
        )
        .set(service_order::Column::StewardId, viewer.user_id);
        transition(state, viewer, &order, step).await
    }

    /// Turns a PLACED errand down, with a reason (1..200). Same staff as accepting.
    async fn reject_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let reason = check_text("reason", &reason, MAX_REASON)?;
        let order = find_order(&state.db, parse_id(&id, "order")?).await?;
        require_handler(state, viewer, &order).await?;
        let verdict =
            moderation::check_user(state, viewer.user_id, Scene::Comment, &[&reason]).await?;
        let step = Step::new(
            &[OrderStatus::Placed],
            OrderStatus::Rejected,
            OrderAction::Rejected,
        )
        .set_text(service_order::Column::RejectReason, reason.clone())
        .note(reason)
        .review(verdict);
        transition(state, viewer, &order, step).await
    }

    /// 派单: the accepting steward hands the errand to a PROPERTY_STAFF or VOLUNTEER whose scope
    /// covers its area.
    async fn dispatch_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        assignee_id: ID,
    ) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let order = find_order(&state.db, parse_id(&id, "order")?).await?;
        if order.steward_id != Some(viewer.user_id) {
            return Err(AppError::forbidden(
                "only the steward who accepted the errand may dispatch it",
            ));
        }
        let assignee = users::Entity::find_by_id(parse_id(&assignee_id, "assignee")?)
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("assignee"))?;
        let area = find_area(&state.db, order.area_id).await?;
        if !user_holds_any_over(&state.db, assignee.id, &area.path, ASSIGNEES).await? {
            return Err(AppError::bad_input(
                "the assignee must be PROPERTY_STAFF or a VOLUNTEER covering the errand's area",
            ));
        }
        let step = Step::new(
            &[OrderStatus::Accepted],
            OrderStatus::Dispatched,
            OrderAction::Dispatched,
        )
        .set(service_order::Column::AssigneeId, assignee.id)
        .only_if(service_order::Column::StewardId, viewer.user_id);
        transition(state, viewer, &order, step).await
    }

    /// The assignee reports the errand done, with an optional note (≤ 200).
    async fn complete_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        note: Option<String>,
    ) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let note = note.map(|n| check_text("note", &n, MAX_NOTE)).transpose()?;
        let order = find_order(&state.db, parse_id(&id, "order")?).await?;
        if order.assignee_id != Some(viewer.user_id) {
            return Err(AppError::forbidden(
                "only the assignee may complete the errand",
            ));
        }
        let mut step = Step::new(
            &[OrderStatus::Dispatched],
            OrderStatus::Completed,
            OrderAction::Completed,
        )
        .only_if(service_order::Column::AssigneeId, viewer.user_id);
        if let Some(note) = note {
            let verdict =
                moderation::check_user(state, viewer.user_id, Scene::Comment, &[&note]).await?;
            step = step.note(note).review(verdict);
        }
        transition(state, viewer, &order, step).await
    }

    /// 评单: the resident rates a completed errand, 1..5 stars and an optional comment (≤ 200). A
    /// VOLUNTEER or ACTIVE party member assignee then earns the ORDER_COMPLETED points, once.
    async fn rate_order(
        &self,
        ctx: &Context<'_>,
        id: ID,
        stars: i32,
        comment: Option<String>,
    ) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        if !(1..=5).contains(&stars) {
            return Err(AppError::bad_input("stars must be between 1 and 5"));
        }
        let comment = comment
            .map(|c| check_text("comment", &c, MAX_NOTE))
            .transpose()?;
        let order = find_order(&state.db, parse_id(&id, "order")?).await?;
        require_resident(&order, viewer)?;
        let mut step = Step::new(
            &[OrderStatus::Completed],
            OrderStatus::Rated,
            OrderAction::Rated,
        )
        .set_int(service_order::Column::RatingStars, stars);
        if let Some(comment) = comment {
            let verdict =
                moderation::check_user(state, viewer.user_id, Scene::Comment, &[&comment]).await?;
            step = step
                .set_text(service_order::Column::RatingComment, comment.clone())
                .note(comment)
                .review(verdict);
        }
        transition(state, viewer, &order, step).await
    }

    /// The resident withdraws a PLACED or ACCEPTED errand.
    async fn cancel_order(&self, ctx: &Context<'_>, id: ID) -> AppResult<service_order::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let order = find_order(&state.db, parse_id(&id, "order")?).await?;
        require_resident(&order, viewer)?;
        let step = Step::new(
            &[OrderStatus::Placed, OrderStatus::Accepted],
            OrderStatus::Cancelled,
            OrderAction::Cancelled,
        );
        transition(state, viewer, &order, step).await
    }
}

/// One transition: the statuses it may start from, where it goes, and the columns it sets.
struct Step {
    from: &'static [OrderStatus],
    to: OrderStatus,
    action: OrderAction,
    sets: Vec<(service_order::Column, sea_orm::Value)>,
    guard: Option<(service_order::Column, i64)>,
    note: Option<String>,
}

impl Step {
    fn new(from: &'static [OrderStatus], to: OrderStatus, action: OrderAction) -> Self {
        Self {
            from,
            to,
            action,
            sets: Vec::new(),
            guard: None,
            note: None,
        }
    }

    fn set(mut self, column: service_order::Column, user: i64) -> Self {
        self.sets.push((column, user.into()));
        self
    }

    fn set_int(mut self, column: service_order::Column, value: i32) -> Self {
        self.sets.push((column, value.into()));
        self
    }

    fn set_text(mut self, column: service_order::Column, value: String) -> Self {
        self.sets.push((column, value.into()));
        self
    }

    /// The row must still name this user in `column` (the steward dispatching, the assignee
    /// completing).
    fn only_if(mut self, column: service_order::Column, user: i64) -> Self {
        self.guard = Some((column, user));
        self
    }

    fn note(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }

    /// Flags the errand for staff when content security asked for a review of the step's text.
    fn review(mut self, verdict: Verdict) -> Self {
        if verdict.needs_review() {
            self.sets
                .push((service_order::Column::NeedsReview, true.into()));
        }
        self
    }
}

/// Applies a step in one transaction: the conditional UPDATE, the event, the points of a rating,
/// and the subscribe message it causes. Zero rows updated: CONFLICT, nothing written. Live
/// subscribers hear of it once it has committed.
async fn transition(
    state: &AppState,
    viewer: &Viewer,
    order: &service_order::Model,
    step: Step,
) -> AppResult<service_order::Model> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let mut update = service_order::Entity::update_many()
        .col_expr(service_order::Column::Status, Expr::value(step.to))
        .col_expr(service_order::Column::UpdatedAt, Expr::value(now))
        .filter(service_order::Column::Id.eq(order.id))
        .filter(service_order::Column::Status.is_in(step.from.iter().copied()));
    for (column, value) in step.sets {
        update = update.col_expr(column, Expr::value(value));
    }
    if let Some((column, user)) = step.guard {
        update = update.filter(column.eq(user));
    }
    if update.exec(&txn).await?.rows_affected == 0 {
        let current = find_order(&txn, order.id).await?.status;
        return Err(AppError::conflict(format!(
            "the errand is {current:?}; reload it"
        )));
    }
    let from = order.status;
    record_event(
        &txn,
        order.id,
        viewer.user_id,
        step.action,
        Some(from),
        step.to,
        step.note,
    )
    .await?;
    let updated = find_order(&txn, order.id).await?;

    let mut awarded = None;
    if step.action == OrderAction::Rated
        && let Some(assignee) = updated.assignee_id
        && earns_points(&txn, assignee, order.area_id).await?
    {
        awarded = points::award_for_action(
            &txn,
            assignee,
            PointAction::OrderCompleted,
            "帮办代办评单",
            &format!("order:{}:rated", order.id),
            Some(viewer.user_id),
        )
        .await?;
    }
    for notice in notices(&updated, step.action) {
        notify::enqueue(&txn, state, notice).await?;
    }
    txn.commit().await?;
    state.changed(Topic::Order(order.id)).await;
    if let Some(entry) = awarded {
        points::boards::record(
            &state.db,
            state.store.as_ref(),
            std::slice::from_ref(&entry),
        )
        .await;
    }
    Ok(updated)
}

/// The subscribe messages a step sends: the resident hears of accept, reject and completion; the
/// assignee of a dispatch.
fn notices(order: &service_order::Model, action: OrderAction) -> Vec<Notice> {
    let word = match action {
        OrderAction::Accepted => "已接单",
        OrderAction::Rejected => "未受理",
        OrderAction::Completed => "已完成",
        OrderAction::Dispatched => "待处理",
        _ => return Vec::new(),
    };
    let to = match action {
        OrderAction::Dispatched => order.assignee_id,
        _ => Some(order.resident_id),
    };
    to.map(|user_id| Notice::order(user_id, order, word))
        .into_iter()
        .collect()
}

/// Property staff are paid for errands; volunteers and ACTIVE party members earn points.
async fn earns_points(db: &impl ConnectionTrait, user_id: i64, area_id: i64) -> AppResult<bool> {
    let area = find_area(db, area_id).await?;
    if user_holds_any_over(db, user_id, &area.path, &[Role::PropertyStaff]).await? {
        return Ok(false);
    }
    crate::org::is_volunteer_or_active_member(db, user_id).await
}

/// Whether a user (not necessarily the viewer) holds one of `roles` at `path` or above.
async fn user_holds_any_over(
    db: &impl ConnectionTrait,
    user_id: i64,
    path: &str,
    roles: &[Role],
) -> AppResult<bool> {
    let paths: Vec<String> = role_grant::Entity::find()
        .select_only()
        .column(area::Column::Path)
        .join(JoinType::InnerJoin, role_grant::Relation::Area.def())
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::Role.is_in(roles.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(paths.iter().any(|p| path.starts_with(p.as_str())))
}

async fn require_handler(
    state: &AppState,
    viewer: &Viewer,
    order: &service_order::Model,
) -> AppResult<()> {
    let area = find_area(&state.db, order.area_id).await?;
    if viewer
        .holds_any_over(&state.db, &area.path, HANDLERS)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only a STEWARD or GRID_WORKER covering the errand's area may do this",
        ))
    }
}

fn require_resident(order: &service_order::Model, viewer: &Viewer) -> AppResult<()> {
    if order.resident_id == viewer.user_id {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the resident who placed the errand may do this",
        ))
    }
}

/// The participants and the staff in scope see an errand; anyone else gets FORBIDDEN.
async fn require_visible(
    state: &AppState,
    viewer: &Viewer,
    order: &service_order::Model,
) -> AppResult<()> {
    if is_participant(order, viewer.user_id) {
        return Ok(());
    }
    let area = find_area(&state.db, order.area_id).await?;
    if viewer
        .holds_any_over(&state.db, &area.path, OVERSEERS)
        .await?
    {
        Ok(())
    } else {
        Err(AppError::forbidden("this errand is not yours to see"))
    }
}

pub fn is_participant(order: &service_order::Model, user_id: i64) -> bool {
    order.resident_id == user_id
        || order.steward_id == Some(user_id)
        || order.assignee_id == Some(user_id)
}

async fn find_order(db: &impl ConnectionTrait, id: i64) -> AppResult<service_order::Model> {
    service_order::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("order"))
}

async fn record_event(
    txn: &impl ConnectionTrait,
    order_id: i64,
    actor_id: i64,
    action: OrderAction,
    from_status: Option<OrderStatus>,
    to_status: OrderStatus,
    note: Option<String>,
) -> AppResult<()> {
    order_event::ActiveModel {
        order_id: Set(order_id),
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

#[cfg(test)]
mod tests {
    use super::check_mobile;

    #[test]
    fn mainland_mobiles_only() {
        assert_eq!(check_mobile("139 0000 0042").unwrap(), "13900000042");
        for bad in [
            "12900000042",
            "1390000004",
            "139000000421",
            "+8613900000042",
            "1390000004x",
            "",
        ] {
            assert!(check_mobile(bad).is_err(), "{bad}");
        }
    }
}
