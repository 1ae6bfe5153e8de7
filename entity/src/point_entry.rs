use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{RequestLoader, UserById};
pub use crate::sea_orm_active_enums::PointAction;

/// One line of the points ledger, the truth behind every total and leaderboard.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "point_entry")]
#[graphql(name = "PointEntry", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub user_id: i64,
    /// Points added (negative for a correction).
    pub delta: i32,
    /// Why, in words.
    pub reason: String,
    /// The rule's action; null for a manual award or correction.
    pub action: Option<PointAction>,
    /// Unique per user: the same award given twice counts once (e.g. `wish:812:confirm`).
    pub source_key: String,
    #[graphql(skip)]
    pub actor_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Who earned the points.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::users::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(self.user_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("ledger entry points at a missing user"))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
