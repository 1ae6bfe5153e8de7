//! The area tree, roles held at areas, and the party organisation tree with its members.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;
use entity::area::{self, AreaKind};
use entity::party_member::{self, MemberCategory, MemberStatus};
use entity::role_grant::{self, Role};
use entity::{party_org, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use crate::auth::viewer;
use crate::error::{AppError, AppResult, check_text, on_unique, parse_id};
use crate::pagination::{Page, PageArgs, connection, total_count};
use crate::state::AppState;

const MAX_NAME: usize = 50;
const MAX_WORK_UNIT: usize = 100;

/// A new area under an existing one.
#[derive(InputObject)]
pub struct CreateAreaInput {
    pub parent_id: ID,
    /// Must be one level below the parent's kind (a BUILDING may hang directly under a COMPOUND).
    pub kind: AreaKind,
    /// 1..50 characters, unique among its siblings.
    pub name: String,
}

/// A new party organisation.
#[derive(InputObject)]
pub struct CreatePartyOrgInput {
    /// The area the organisation serves.
    pub area_id: ID,
    /// The organisation above; null for a top organisation. Its area must be at or above `areaId`.
    pub parent_id: Option<ID>,
    /// 1..50 characters.
    pub name: String,
}

/// A request to join a party organisation.
#[derive(InputObject)]
pub struct RegisterPartyMemberInput {
    pub party_org_id: ID,
    pub category: MemberCategory,
    /// Required for IN_SERVICE members (双报到): 1..100 characters.
    pub work_unit: Option<String>,
}

#[derive(Default)]
pub struct OrgQuery;

#[Object]
impl OrgQuery {
    /// The district: the root of the area tree.
    async fn root_area(&self, ctx: &Context<'_>) -> AppResult<area::Model> {
        viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        area::Entity::find()
            .filter(area::Column::ParentId.is_null())
            .one(&state.db)
            .await?
            .ok_or_else(|| AppError::not_found("root area"))
    }

    /// One area of the tree.
    async fn area(&self, ctx: &Context<'_>, id: ID) -> AppResult<area::Model> {
        viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        find_area(&state.db, parse_id(&id, "area")?).await
    }

    /// One party organisation.
    async fn party_org(&self, ctx: &Context<'_>, id: ID) -> AppResult<party_org::Model> {
        viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        find_party_org(&state.db, parse_id(&id, "party organisation")?).await
    }

    /// The signed-in user's party membership, if any.
    async fn my_party_membership(
        &self,
        ctx: &Context<'_>,
    ) -> AppResult<Option<party_member::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        Ok(party_member::Entity::find()
            .filter(party_member::Column::UserId.eq(viewer.user_id))
            .one(&state.db)
            .await?)
    }

    /// Members of a party organisation, newest first. Admins (COMMUNITY_ADMIN and above) whose
    /// scope covers the organisation's area only.
    async fn party_members(
        &self,
        ctx: &Context<'_>,
        party_org_id: ID,
        status: Option<MemberStatus>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<Page<party_member::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let args = PageArgs::parse(first, after)?;
        let org = find_party_org(&state.db, parse_id(&party_org_id, "party organisation")?).await?;
        let org_area = find_area(&state.db, org.area_id).await?;
        viewer
            .require_role_over(&state.db, &org_area.path, Role::CommunityAdmin)
            .await?;

        let mut filter =
            party_member::Entity::find().filter(party_member::Column::PartyOrgId.eq(org.id));
        if let Some(status) = status {
            filter = filter.filter(party_member::Column::Status.eq(status));
        }
        let total = total_count(ctx, filter.clone(), &state.db).await?;
        let mut page = filter
            .order_by_desc(party_member::Column::Id)
            .limit(args.limit());
        if let Some(before) = args.before_id {
            page = page.filter(party_member::Column::Id.lt(before));
        }
        let rows = page.all(&state.db).await?;
        Ok(connection(rows, &args, total, |m| m.id))
    }
}

#[derive(Default)]
pub struct OrgMutation;

#[Object]
impl OrgMutation {
    /// Adds an area below `parentId`. Admins (COMMUNITY_ADMIN and above) inside their own scope.
    async fn create_area(
        &self,
        ctx: &Context<'_>,
        input: CreateAreaInput,
    ) -> AppResult<area::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let name = check_text("name", &input.name, MAX_NAME)?;
        let parent = find_area(&state.db, parse_id(&input.parent_id, "parent area")?).await?;
        viewer
            .require_role_over(&state.db, &parent.path, Role::CommunityAdmin)
            .await?;
        if !input.kind.may_be_child_of(parent.kind) {
            return Err(AppError::bad_input(format!(
                "a {:?} area cannot be placed under a {:?} area",
                input.kind, parent.kind
            )));
        }
        let txn = state.db.begin().await?;
        let area = insert_area(&txn, &parent, input.kind, &name).await?;
        txn.commit().await?;
        tracing::info!(actor = viewer.user_id, area = area.id, "area created");
        Ok(area)
    }

    /// Grants a role at an area. The caller must be an admin whose scope covers the area and
    /// may grant only roles no higher than their own there. Granting a role already held
    /// changes nothing.
    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
        area_id: ID,
    ) -> AppResult<users::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let (user, area) = role_target(state, viewer, &user_id, role, &area_id).await?;
        grant(&state.db, user.id, role, area.id, Some(viewer.user_id)).await?;
        tracing::info!(
            actor = viewer.user_id,
            user = user.id,
            ?role,
            area = area.id,
            "role granted"
        );
        crate::audit::record(
            &state.db,
            Some(viewer.user_id),
            "role.grant",
            "user",
            user.id,
            serde_json::json!({ "role": role.to_value(), "area": area.id }),
        )
        .await?;
        Ok(user)
    }

    /// Takes back a role held at an area; the same rules as granting apply.
    async fn revoke_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: Role,
        area_id: ID,
    ) -> AppResult<users::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let (user, area) = role_target(state, viewer, &user_id, role, &area_id).await?;
        let deleted = role_grant::Entity::delete_many()
            .filter(role_grant::Column::UserId.eq(user.id))
            .filter(role_grant::Column::Role.eq(role))
            .filter(role_grant::Column::AreaId.eq(area.id))
            .exec(&state.db)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(AppError::not_found("role grant"));
        }
        tracing::info!(
            actor = viewer.user_id,
            user = user.id,
            ?role,
            area = area.id,
            "role revoked"
        );
        crate::audit::record(
            &state.db,
            Some(viewer.user_id),
            "role.revoke",
            "user",
            user.id,
            serde_json::json!({ "role": role.to_value(), "area": area.id }),
        )
        .await?;
        Ok(user)
    }

    /// Creates a party organisation bound to an area. Admins inside their own scope.
    async fn create_party_org(
        &self,
        ctx: &Context<'_>,
        input: CreatePartyOrgInput,
    ) -> AppResult<party_org::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let name = check_text("name", &input.name, MAX_NAME)?;
        let area = find_area(&state.db, parse_id(&input.area_id, "area")?).await?;
        viewer
            .require_role_over(&state.db, &area.path, Role::CommunityAdmin)
            .await?;
        let parent = match &input.parent_id {
            Some(id) => {
                Some(find_party_org(&state.db, parse_id(id, "parent party organisation")?).await?)
            }
            None => None,
        };
        if let Some(parent) = &parent {
            let parent_area = find_area(&state.db, parent.area_id).await?;
            if !area.path.starts_with(&parent_area.path) {
                return Err(AppError::bad_input(
                    "the parent organisation's area must be at or above the new organisation's area",
                ));
            }
        }
        let txn = state.db.begin().await?;
        let org = insert_party_org(&txn, &area, parent.as_ref(), &name).await?;
        txn.commit().await?;
        tracing::info!(
            actor = viewer.user_id,
            party_org = org.id,
            "party organisation created"
        );
        Ok(org)
    }

    /// Asks to join a party organisation; PENDING until an admin in scope answers. A user
    /// belongs to one organisation; after a rejection they may register again.
    async fn register_party_member(
        &self,
        ctx: &Context<'_>,
        input: RegisterPartyMemberInput,
    ) -> AppResult<party_member::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let org = find_party_org(
            &state.db,
            parse_id(&input.party_org_id, "party organisation")?,
        )
        .await?;
        let work_unit = match (input.category, input.work_unit) {
            (_, Some(unit)) => Some(check_text("workUnit", &unit, MAX_WORK_UNIT)?),
            (MemberCategory::InService, None) => {
                return Err(AppError::bad_input(
                    "in-service members must name their work unit",
                ));
            }
            (_, None) => None,
        };
        let now = Utc::now();
        let existing = party_member::Entity::find()
            .filter(party_member::Column::UserId.eq(viewer.user_id))
            .one(&state.db)
            .await?;
        match existing {
            Some(member) if member.status != MemberStatus::Rejected => Err(AppError::conflict(
                "you are already registered with a party organisation",
            )),
            Some(member) => {
                // Re-registration after a rejection: only if it is still rejected now.
                let result = party_member::Entity::update_many()
                    .col_expr(party_member::Column::PartyOrgId, Expr::value(org.id))
                    .col_expr(party_member::Column::Category, Expr::value(input.category))
                    .col_expr(party_member::Column::WorkUnit, Expr::value(work_unit))
                    .col_expr(
                        party_member::Column::Status,
                        Expr::value(MemberStatus::Pending),
                    )
                    .col_expr(
                        party_member::Column::VerifiedBy,
                        Expr::value(Option::<i64>::None),
                    )
                    .col_expr(
                        party_member::Column::VerifiedAt,
                        Expr::value(Option::<chrono::DateTime<Utc>>::None),
                    )
                    .filter(party_member::Column::Id.eq(member.id))
                    .filter(party_member::Column::Status.eq(MemberStatus::Rejected))
                    .exec(&state.db)
                    .await?;
                if result.rows_affected == 0 {
                    return Err(AppError::conflict("your registration changed meanwhile"));
                }
                find_member(&state.db, member.id).await
            }
            None => Ok(party_member::ActiveModel {
                user_id: Set(viewer.user_id),
                party_org_id: Set(org.id),
                category: Set(input.category),
                work_unit: Set(work_unit),
                status: Set(MemberStatus::Pending),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&state.db)
            .await
            .map_err(on_unique(
                "you are already registered with a party organisation",
            ))?),
        }
    }

    /// Answers a PENDING registration: ACTIVE when approved, REJECTED otherwise. Admins whose
    /// scope covers the organisation's area; an answered registration is CONFLICT.
    async fn verify_party_member(
        &self,
        ctx: &Context<'_>,
        id: ID,
        approve: bool,
    ) -> AppResult<party_member::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let member = find_member(&state.db, parse_id(&id, "party member")?).await?;
        let org = find_party_org(&state.db, member.party_org_id).await?;
        let org_area = find_area(&state.db, org.area_id).await?;
        viewer
            .require_role_over(&state.db, &org_area.path, Role::CommunityAdmin)
            .await?;
        if member.user_id == viewer.user_id {
            return Err(AppError::forbidden(
                "you cannot verify your own registration",
            ));
        }
        let status = if approve {
            MemberStatus::Active
        } else {
            MemberStatus::Rejected
        };
        let result = party_member::Entity::update_many()
            .col_expr(party_member::Column::Status, Expr::value(status))
            .col_expr(
                party_member::Column::VerifiedBy,
                Expr::value(viewer.user_id),
            )
            .col_expr(party_member::Column::VerifiedAt, Expr::value(Utc::now()))
            .filter(party_member::Column::Id.eq(member.id))
            .filter(party_member::Column::Status.eq(MemberStatus::Pending))
            .exec(&state.db)
            .await?;
        if result.rows_affected == 0 {
            return Err(AppError::conflict(
                "this registration has already been answered",
            ));
        }
        tracing::info!(
            actor = viewer.user_id,
            member = member.id,
            ?status,
            "party member verified"
        );
        crate::audit::record(
            &state.db,
            Some(viewer.user_id),
            "member.verify",
            "party_member",
            member.id,
            serde_json::json!({ "status": status.to_value(), "user": member.user_id }),
        )
        .await?;
        find_member(&state.db, member.id).await
    }
}

async fn role_target(
    state: &AppState,
    viewer: &crate::auth::Viewer,
    user_id: &ID,
    role: Role,
    area_id: &ID,
) -> AppResult<(users::Model, area::Model)> {
    let area = find_area(&state.db, parse_id(area_id, "area")?).await?;
    let held = viewer
        .require_role_over(&state.db, &area.path, Role::CommunityAdmin)
        .await?;
    if role.rank() > held.rank() {
        return Err(AppError::forbidden(
            "you may grant only roles no higher than your own",
        ));
    }
    let user = users::Entity::find_by_id(parse_id(user_id, "user")?)
        .one(&state.db)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    Ok((user, area))
}

/// Whether a user takes on wishes and earns points for errands: an ACTIVE party member or a
/// holder of the VOLUNTEER role.
pub async fn is_volunteer_or_active_member(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> AppResult<bool> {
    let volunteer = role_grant::Entity::find()
        .filter(role_grant::Column::UserId.eq(user_id))
        .filter(role_grant::Column::Role.eq(Role::Volunteer))
        .count(db)
        .await?;
    if volunteer > 0 {
        return Ok(true);
    }
    let member = party_member::Entity::find()
        .filter(party_member::Column::UserId.eq(user_id))
        .filter(party_member::Column::Status.eq(MemberStatus::Active))
        .count(db)
        .await?;
    Ok(member > 0)
}

pub async fn find_area(db: &impl ConnectionTrait, id: i64) -> AppResult<area::Model> {
    area::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("area"))
}

pub async fn find_party_org(db: &impl ConnectionTrait, id: i64) -> AppResult<party_org::Model> {
    party_org::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("party organisation"))
}

async fn find_member(db: &DatabaseConnection, id: i64) -> AppResult<party_member::Model> {
    party_member::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::not_found("party member"))
}

/// Inserts an area and sets its materialised path; call inside a transaction.
pub async fn insert_area(
    txn: &impl ConnectionTrait,
    parent: &area::Model,
    kind: AreaKind,
    name: &str,
) -> AppResult<area::Model> {
    let row = area::ActiveModel {
        parent_id: Set(Some(parent.id)),
        kind: Set(kind),
        name: Set(name.to_owned()),
        path: Set(String::new()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(on_unique("an area with this name already exists there"))?;
    let path = format!("{}{}/", parent.path, row.id);
    let mut active = row.into_active_model();
    active.path = Set(path);
    Ok(active.update(txn).await?)
}

/// Inserts a party organisation and sets its path; call inside a transaction.
pub async fn insert_party_org(
    txn: &impl ConnectionTrait,
    area: &area::Model,
    parent: Option<&party_org::Model>,
    name: &str,
) -> AppResult<party_org::Model> {
    let row = party_org::ActiveModel {
        parent_id: Set(parent.map(|p| p.id)),
        area_id: Set(area.id),
        name: Set(name.to_owned()),
        path: Set(String::new()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let path = format!(
        "{}{}/",
        parent.map(|p| p.path.as_str()).unwrap_or("/"),
        row.id
    );
    let mut active = row.into_active_model();
    active.path = Set(path);
    Ok(active.update(txn).await?)
}

/// Grants a role; granting one already held changes nothing.
pub async fn grant(
    db: &impl ConnectionTrait,
    user_id: i64,
    role: Role,
    area_id: i64,
    granted_by: Option<i64>,
) -> AppResult<()> {
    role_grant::Entity::insert(role_grant::ActiveModel {
        user_id: Set(user_id),
        role: Set(role),
        area_id: Set(area_id),
        granted_by: Set(granted_by),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([
        role_grant::Column::UserId,
        role_grant::Column::Role,
        role_grant::Column::AreaId,
    ])
    .exec(db)
    .await?;
    Ok(())
}
