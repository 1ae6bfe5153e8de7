use async_graphql::{ComplexObject, Context, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{AreaById, RequestLoader};
pub use crate::sea_orm_active_enums::ContactKind;

/// Whom to call for one kind of help at an area and everything under it, unless an area further
/// down sets its own: the community police officer, building leader, grid worker or property desk.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "area_contact")]
#[graphql(name = "AreaContact", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub area_id: i64,
    /// What the contact is for.
    pub kind: ContactKind,
    /// Who answers, 1..50 characters, e.g. 王警官.
    pub name: String,
    /// The number to call: digits, `+`, `-` and spaces, 1..32 characters. A service number given
    /// out on purpose, shown on the cards it applies to.
    pub phone: String,
    #[graphql(skip)]
    pub updated_by: Option<i64>,
    #[graphql(skip)]
    pub updated_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    /// The area the contact was set at; it applies to everything under it.
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::area::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(self.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("area contact points at a missing area"))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
