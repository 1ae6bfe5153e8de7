//! 睦邻卡: cards for residents who need looking after, the contacts shown on them, and the
//! neighbours paired with their holders.
//!
//! Who sees a card is decided in one place, [`access_of`]: the holder and staff in scope see it
//! whole, the paired neighbour sees the contacts, services and pairing, nobody else sees it. The
//! card's own resolvers ask [`CardPolicy`] again for every sensitive field, so however a card is
//! reached, its holder and note go only to those who may see them. The note is stored encrypted;
//! every time staff read it an audit line is logged (never the note itself).

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;
use entity::area;
use entity::area_contact::{self, ContactKind};
use entity::context::internal;
use entity::loader::{AreaById, RequestLoader};
use entity::neighbor_card::{self, CardAccess, CardReason, CardServer};
use entity::role_grant::Role;
use entity::{service_item, users};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::{Viewer, viewer};
use crate::error::{AppError, AppResult, check_text, on_unique, parse_id};
use crate::moderation::{self, Scene};
use crate::org::find_area;
use crate::pagination::{Page, PageArgs, connection, total_count};
use crate::state::AppState;

const MAX_NAME: usize = 50;
const MAX_PHONE: usize = 32;
const MAX_NOTE: usize = 500;

/// Who may issue cards and pair neighbours, at an area covering the holder's home. Listed rather
/// than ranked: STEWARD and PROPERTY_STAFF rank between GRID_WORKER and COMMUNITY_ADMIN and may not.
const ISSUERS: [Role; 4] = [
    Role::GridWorker,
    Role::CommunityAdmin,
    Role::StreetAdmin,
    Role::DistrictAdmin,
];

/// Staff who may read the cards of the homes their scope covers: the issuers and building leaders.
const READERS: [Role; 5] = [
    Role::GridWorker,
    Role::BuildingLeader,
    Role::CommunityAdmin,
    Role::StreetAdmin,
    Role::DistrictAdmin,
];

/// A contact to show on the cards of an area and everything under it.
#[derive(InputObject)]
pub struct SetAreaContactInput {
    /// The area whose cards, and those of everything under it, show the contact.
    pub area_id: ID,
    /// What the contact is for; one per kind and area.
    pub kind: ContactKind,
    /// 1..50 characters.
    pub name: String,
    /// 1..32 characters: digits, `+`, `-` and spaces.
    pub phone: String,
}

/// A new 睦邻卡.
#[derive(InputObject)]
pub struct IssueNeighborCardInput {
    /// The resident the card is for; they must have bound a home.
    pub holder_id: ID,
    /// Why the holder needs looking after.
    pub reason: CardReason,
    /// What those looking after the holder should know, up to 500 characters. Stored encrypted;
    /// only the holder and staff in scope read it.
    pub note: Option<String>,
}

#[derive(Default)]
pub struct CareQuery;

#[Object]
impl CareQuery {
    /// The signed-in resident's own card, or null if they hold none.
    async fn my_neighbor_card(&self, ctx: &Context<'_>) -> AppResult<Option<neighbor_card::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        Ok(neighbor_card::Entity::find()
            .filter(neighbor_card::Column::HolderId.eq(viewer.user_id))
            .one(&state.db)
            .await?)
    }

    /// One card: for its holder; for GRID_WORKER, BUILDING_LEADER, COMMUNITY_ADMIN and above whose
    /// scope covers the holder's home; and for the paired neighbour, who sees the contacts and
    /// services but not the holder or the note. Anyone else: FORBIDDEN.
    async fn neighbor_card(&self, ctx: &Context<'_>, id: ID) -> AppResult<neighbor_card::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let card = find_card(&state.db, parse_id(&id, "neighbour card")?).await?;
        let home = find_area(&state.db, card.area_id).await?;
        if access_of(&state.db, viewer, &card, &home.path).await? == CardAccess::Denied {
            return Err(AppError::forbidden("this card is not yours to see"));
        }
        Ok(card)
    }

    /// The cards of the holders living in an area and everything under it, newest first. Staff
    /// (GRID_WORKER, BUILDING_LEADER, COMMUNITY_ADMIN and above) whose scope covers the area.
    async fn neighbor_cards(
        &self,
        ctx: &Context<'_>,
        area_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<Page<neighbor_card::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let args = PageArgs::parse(first, after)?;
        let area = find_area(&state.db, parse_id(&area_id, "area")?).await?;
        require_any_over(&state.db, viewer, &area.path, &READERS).await?;
        let subtree = Query::select()
            .column(area::Column::Id)
            .from(area::Entity)
            .and_where(Expr::col(area::Column::Path).like(format!("{}%", area.path)))
            .to_owned();
        let query = neighbor_card::Entity::find().filter(
            Expr::col((neighbor_card::Entity, neighbor_card::Column::AreaId)).in_subquery(subtree),
        );
        let total = total_count(ctx, query.clone(), &state.db).await?;
        let mut page = query
            .order_by_desc(neighbor_card::Column::Id)
            .limit(args.limit());
        if let Some(before) = args.before_id {
            page = page.filter(neighbor_card::Column::Id.lt(before));
        }
        Ok(connection(page.all(&state.db).await?, &args, total, |c| {
            c.id
        }))
    }
}

#[derive(Default)]
pub struct CareMutation;

#[Object]
impl CareMutation {
    /// Sets whom to call for one kind of help at an area, replacing the one set there before. It
    /// applies to the cards of every home under the area that has none of its own nearer.
    /// COMMUNITY_ADMIN and above, in scope.
    async fn set_area_contact(
        &self,
        ctx: &Context<'_>,
        input: SetAreaContactInput,
    ) -> AppResult<area_contact::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let name = check_text("name", &input.name, MAX_NAME)?;
        let phone = check_phone(&input.phone)?;
        let area = find_area(&state.db, parse_id(&input.area_id, "area")?).await?;
        viewer
            .require_role_over(&state.db, &area.path, Role::CommunityAdmin)
            .await?;
        let contact = area_contact::ActiveModel {
            area_id: Set(area.id),
            kind: Set(input.kind),
            name: Set(name),
            phone: Set(phone),
            updated_by: Set(Some(viewer.user_id)),
            updated_at: Set(Utc::now()),
            ..Default::default()
        };
        area_contact::Entity::insert(contact)
            .on_conflict(
                OnConflict::columns([area_contact::Column::AreaId, area_contact::Column::Kind])
                    .update_columns([
                        area_contact::Column::Name,
                        area_contact::Column::Phone,
                        area_contact::Column::UpdatedBy,
                        area_contact::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&state.db)
            .await?;
        tracing::info!(
            actor = viewer.user_id,
            area = area.id,
            kind = ?input.kind,
            "area contact set"
        );
        area_contact::Entity::find()
            .filter(area_contact::Column::AreaId.eq(area.id))
            .filter(area_contact::Column::Kind.eq(input.kind))
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("area contact"))
    }

    /// Issues a card to a resident with a bound home. GRID_WORKER, COMMUNITY_ADMIN, STREET_ADMIN
    /// or DISTRICT_ADMIN whose scope covers the holder's home. One card per holder: a second one
    /// is CONFLICT. A note content security rejects is BAD_USER_INPUT; one it wants reviewed is
    /// kept and the card flagged (`needsReview`).
    async fn issue_neighbor_card(
        &self,
        ctx: &Context<'_>,
        input: IssueNeighborCardInput,
    ) -> AppResult<neighbor_card::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let note = input
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| check_text("note", n, MAX_NOTE))
            .transpose()?;
        if !viewer
            .grants(&state.db)
            .await?
            .iter()
            .any(|g| ISSUERS.contains(&g.role))
        {
            return Err(AppError::forbidden(
                "only grid workers and admins may issue cards",
            ));
        }
        let holder = find_user(&state.db, &input.holder_id, "holder").await?;
        let Some(home) = holder.home_area_id else {
            return Err(AppError::bad_input(
                "the holder has not bound a home; a card needs one",
            ));
        };
        let home = find_area(&state.db, home).await?;
        require_any_over(&state.db, viewer, &home.path, &ISSUERS).await?;
        let verdict = match &note {
            Some(note) => {
                moderation::check_user(state, viewer.user_id, Scene::Forum, &[note]).await?
            }
            None => moderation::Verdict::Pass,
        };
        let note_encrypted = note.map(|n| state.cipher.encrypt(&n)).transpose()?;
        let card = neighbor_card::ActiveModel {
            holder_id: Set(holder.id),
            reason: Set(input.reason),
            note_encrypted: Set(note_encrypted),
            paired_neighbor_id: Set(None),
            issued_by: Set(viewer.user_id),
            area_id: Set(home.id),
            needs_review: Set(verdict.needs_review()),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&state.db)
        .await
        .map_err(on_unique("this resident already holds a card"))?;
        tracing::info!(
            actor = viewer.user_id,
            card = card.id,
            holder = holder.id,
            "neighbour card issued"
        );
        Ok(card)
    }

    /// Pairs a neighbour with the card's holder (邻里结对), replacing any neighbour paired
    /// before. The same staff as may issue the card; the neighbour may not be the holder.
    async fn pair_neighbor(
        &self,
        ctx: &Context<'_>,
        card_id: ID,
        neighbor_id: ID,
    ) -> AppResult<neighbor_card::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let card = find_card(&state.db, parse_id(&card_id, "neighbour card")?).await?;
        let home = find_area(&state.db, card.area_id).await?;
        require_any_over(&state.db, viewer, &home.path, &ISSUERS).await?;
        let neighbor = find_user(&state.db, &neighbor_id, "neighbour").await?;
        if neighbor.id == card.holder_id {
            return Err(AppError::bad_input(
                "the holder cannot be their own paired neighbour",
            ));
        }
        neighbor_card::Entity::update_many()
            .col_expr(
                neighbor_card::Column::PairedNeighborId,
                Expr::value(neighbor.id),
            )
            .filter(neighbor_card::Column::Id.eq(card.id))
            .exec(&state.db)
            .await?;
        tracing::info!(
            actor = viewer.user_id,
            card = card.id,
            neighbor = neighbor.id,
            "neighbour paired"
        );
        find_card(&state.db, card.id).await
    }
}

/// How much of `card` the viewer may see; `home_path` is the path of the card's area.
pub async fn access_of(
    db: &DatabaseConnection,
    viewer: &Viewer,
    card: &neighbor_card::Model,
    home_path: &str,
) -> AppResult<CardAccess> {
    if card.holder_id == viewer.user_id {
        return Ok(CardAccess::Holder);
    }
    if viewer.holds_any_over(db, home_path, &READERS).await? {
        return Ok(CardAccess::Staff);
    }
    if card.paired_neighbor_id == Some(viewer.user_id) {
        return Ok(CardAccess::PairedNeighbor);
    }
    Ok(CardAccess::Denied)
}

async fn require_any_over(
    db: &DatabaseConnection,
    viewer: &Viewer,
    path: &str,
    roles: &[Role],
) -> AppResult<()> {
    if viewer.holds_any_over(db, path, roles).await? {
        Ok(())
    } else {
        Err(AppError::forbidden("outside your role or area scope"))
    }
}

/// A phone to call: trimmed, 1..32 characters of digits, `+`, `-` and spaces, with a digit.
fn check_phone(value: &str) -> AppResult<String> {
    let phone = value.trim();
    let count = phone.chars().count();
    if count == 0 || count > MAX_PHONE {
        return Err(AppError::bad_input(format!(
            "phone must be 1..{MAX_PHONE} characters"
        )));
    }
    if !phone
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
        || !phone.chars().any(|c| c.is_ascii_digit())
    {
        return Err(AppError::bad_input(
            "phone may hold only digits, '+', '-' and spaces",
        ));
    }
    Ok(phone.to_owned())
}

async fn find_card(db: &DatabaseConnection, id: i64) -> AppResult<neighbor_card::Model> {
    neighbor_card::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("neighbour card"))
}

async fn find_user(db: &DatabaseConnection, id: &ID, what: &str) -> AppResult<users::Model> {
    users::Entity::find_by_id(parse_id(id, what)?)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found(what))
}

/// The card resolvers' side in this crate: access decisions, the note's decryption with its audit
/// line, and the catalogue.
pub struct CardPolicy;

impl CardPolicy {
    /// What the schema's data holds for the card resolvers.
    pub fn server() -> Arc<dyn CardServer> {
        Arc::new(CardPolicy)
    }

    async fn home_path(
        ctx: &Context<'_>,
        card: &neighbor_card::Model,
    ) -> async_graphql::Result<String> {
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(AreaById(card.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("neighbour card points at a missing area"))?
            .path)
    }
}

#[async_graphql::async_trait::async_trait]
impl CardServer for CardPolicy {
    async fn access(
        &self,
        ctx: &Context<'_>,
        card: &neighbor_card::Model,
    ) -> async_graphql::Result<CardAccess> {
        let Ok(viewer) = viewer(ctx) else {
            return Ok(CardAccess::Denied);
        };
        let state = ctx.data_unchecked::<AppState>();
        let home = Self::home_path(ctx, card).await?;
        Ok(access_of(&state.db, viewer, card, &home).await?)
    }

    async fn note(
        &self,
        ctx: &Context<'_>,
        card: &neighbor_card::Model,
    ) -> async_graphql::Result<Option<String>> {
        let Some(stored) = &card.note_encrypted else {
            return Ok(None);
        };
        let access = self.access(ctx, card).await?;
        if !access.whole_card() {
            return Ok(None);
        }
        let state = ctx.data_unchecked::<AppState>();
        let note = state.cipher.decrypt(stored)?;
        if access == CardAccess::Staff {
            let actor = viewer(ctx)?.user_id;
            tracing::info!(target: "audit", actor, card = card.id, "card note read by staff");
            crate::audit::record(
                &state.db,
                Some(actor),
                "card.note_read",
                "neighbor_card",
                card.id,
                serde_json::json!({}),
            )
            .await?;
        }
        Ok(Some(note))
    }

    async fn services(
        &self,
        ctx: &Context<'_>,
        card: &neighbor_card::Model,
    ) -> async_graphql::Result<Vec<service_item::Model>> {
        let state = ctx.data_unchecked::<AppState>();
        let home = Self::home_path(ctx, card).await?;
        Ok(crate::orders::catalog::offered_at(&state.db, &home).await?)
    }
}
