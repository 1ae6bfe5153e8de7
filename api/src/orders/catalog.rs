//! The 帮办代办 catalogue: an area offers its own items and those of every area above it.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;
use entity::role_grant::Role;
use entity::service_item;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::auth::viewer;
use crate::error::{AppError, AppResult, on_unique, parse_id};
use crate::org::find_area;
use crate::state::AppState;

const MAX_NAME: usize = 50;
const MAX_DESCRIPTION: usize = 500;

/// A new catalogue item.
#[derive(InputObject)]
pub struct CreateServiceItemInput {
    /// The area that offers it, and everything under it.
    pub area_id: ID,
    /// 1..50 characters, unique within the area.
    pub name: String,
    /// Up to 500 characters.
    pub description: String,
}

/// Ids of the areas on a materialised path, from the district down.
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/')
        .filter_map(|part| part.parse().ok())
        .collect()
}

/// The items offered at an area with this path: its own and those of every area above it, the
/// district's first.
pub async fn offered_at(
    db: &impl ConnectionTrait,
    area_path: &str,
) -> AppResult<Vec<service_item::Model>> {
    Ok(service_item::Entity::find()
        .filter(service_item::Column::AreaId.is_in(path_ids(area_path)))
        .order_by_asc(service_item::Column::Id)
        .all(db)
        .await?)
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// The catalogue of an area: its own items and those of every area above it.
    async fn service_items(
        &self,
        ctx: &Context<'_>,
        area_id: ID,
    ) -> AppResult<Vec<service_item::Model>> {
        viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let area = find_area(&state.db, parse_id(&area_id, "area")?).await?;
        offered_at(&state.db, &area.path).await
    }
}

#[derive(Default)]
pub struct CatalogMutation;

#[Object]
impl CatalogMutation {
    /// Adds an item to an area's catalogue. COMMUNITY_ADMIN and above, in scope.
    async fn create_service_item(
        &self,
        ctx: &Context<'_>,
        input: CreateServiceItemInput,
    ) -> AppResult<service_item::Model> {
        let viewer = viewer(ctx)?;
        let state = ctx.data_unchecked::<AppState>();
        let name = crate::error::check_text("name", &input.name, MAX_NAME)?;
        let description = input.description.trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(AppError::bad_input(format!(
                "description must be at most {MAX_DESCRIPTION} characters"
            )));
        }
        let area = find_area(&state.db, parse_id(&input.area_id, "area")?).await?;
        viewer
            .require_role_over(&state.db, &area.path, Role::CommunityAdmin)
            .await?;
        let item = service_item::ActiveModel {
            area_id: Set(area.id),
            name: Set(name),
            description: Set(description),
            created_by: Set(Some(viewer.user_id)),
            created_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&state.db)
        .await
        .map_err(on_unique("this area already offers an item of that name"))?;
        Ok(item)
    }
}
