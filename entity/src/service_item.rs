use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{AreaById, RequestLoader};

/// An errand of the 帮办代办 catalogue, offered at its area and everywhere below it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "service_item")]
#[graphql(name = "ServiceItem", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub area_id: i64,
    /// 1..50 characters, e.g. 代缴水电费.
    pub name: String,
    /// Up to 500 characters.
    pub description: String,
    #[graphql(skip)]
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The area that offers the item (and everything under it).
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::area::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(self.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("service item points at a missing area"))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
