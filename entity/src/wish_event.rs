use async_graphql::{ComplexObject, Context, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{RequestLoader, UserById};
pub use crate::sea_orm_active_enums::{WishAction, WishStatus};

/// One transition of a wish: who did what, when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "wish_event")]
#[graphql(name = "WishEvent", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub wish_id: i64,
    #[graphql(skip)]
    pub actor_id: i64,
    pub action: WishAction,
    /// Status before; null for POSTED.
    pub from_status: Option<WishStatus>,
    /// Status after.
    pub to_status: WishStatus,
    /// What the actor said, e.g. when fulfilling.
    pub note: Option<String>,
    /// When it happened.
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
            .ok_or_else(|| internal("wish event points at a missing user"))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
