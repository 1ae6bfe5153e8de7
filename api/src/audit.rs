//! The audit log of administrative actions: who granted which role, awarded which points,
//! changed which rule, verified which member, read which card note. Written in the transaction of
//! the action where there is one; readable by district admins through `auditLog`.

use async_graphql::{Context, Object};
use chrono::Utc;
use entity::audit_log;
use entity::role_grant::Role;
use sea_orm::ColumnTrait;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::Value;

use crate::auth::viewer;
use crate::error::AppResult;
use crate::pagination::{Page, PageArgs, connection, total_count};
use crate::state::AppState;

/// Appends an entry. `detail` must not carry personal data (phones, notes, tokens).
pub async fn record(
    db: &impl ConnectionTrait,
    actor_id: Option<i64>,
    action: &str,
    target_type: &str,
    target_id: impl ToString,
    detail: Value,
) -> AppResult<()> {
    audit_log::ActiveModel {
        actor_id: Set(actor_id),
        action: Set(action.to_owned()),
        target_type: Set(target_type.to_owned()),
        target_id: Set(target_id.to_string()),
        detail: Set(detail.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Administrative actions, newest first. DISTRICT_ADMIN only.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<Page<audit_log::Model>> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let root = crate::db::root_area(&state.db).await?;
        viewer
            .require_role_over(&state.db, &root.path, Role::DistrictAdmin)
            .await?;
        let args = PageArgs::parse(first, after)?;
        let total = total_count(ctx, audit_log::Entity::find(), &state.db).await?;
        let mut page = audit_log::Entity::find()
            .order_by_desc(audit_log::Column::Id)
            .limit(args.limit());
        if let Some(before) = args.before_id {
            page = page.filter(audit_log::Column::Id.lt(before));
        }
        Ok(connection(page.all(&state.db).await?, &args, total, |e| {
            e.id
        }))
    }
}
