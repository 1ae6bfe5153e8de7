use async_graphql::{ComplexObject, Context, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{AreaById, RequestLoader};
pub use crate::sea_orm_active_enums::Role;

/// A role held at an area; it covers the area's whole subtree.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "role_grant")]
#[graphql(name = "RoleGrant", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub user_id: i64,
    pub role: Role,
    #[graphql(skip)]
    pub area_id: i64,
    #[graphql(skip)]
    pub granted_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    /// The area at which the role is held.
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::area::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(self.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("role grant points at a missing area"))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::area::Entity",
        from = "Column::AreaId",
        to = "super::area::Column::Id"
    )]
    Area,
}

impl Related<super::area::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Area.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
