use async_graphql::{ComplexObject, Context, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{RequestLoader, UserById};
pub use crate::sea_orm_active_enums::{OrderAction, OrderStatus};

/// One transition of an errand: who did what, when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "order_event")]
#[graphql(name = "OrderEvent", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub order_id: i64,
    #[graphql(skip)]
    pub actor_id: i64,
    pub action: OrderAction,
    /// Status before; null for PLACED.
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    /// A reason, a completion note or a rating comment.
    pub note: Option<String>,
    #[graphql(name = "at")]
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    /// Who did it.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::users::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(self.actor_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("order event points at a missing user"))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
