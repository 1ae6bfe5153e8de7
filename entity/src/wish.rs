use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{AreaById, EventsOfWish, ImagesOfWish, RequestLoader, UserById};
pub use crate::sea_orm_active_enums::{WishCategory, WishStatus};

/// 微心愿: a resident's small wish, taken on by a party member or volunteer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "wish")]
#[graphql(name = "Wish", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub poster_id: i64,
    #[graphql(skip)]
    pub area_id: i64,
    /// 1..60 characters.
    pub title: String,
    /// 1..1000 characters.
    pub description: String,
    pub category: WishCategory,
    pub status: WishStatus,
    #[graphql(skip)]
    pub claimant_id: Option<i64>,
    /// Content security suggested a person look at some of its text; staff review it.
    pub needs_review: bool,
    pub created_at: DateTimeUtc,
    /// When the wish last changed state.
    pub updated_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    /// The images the author attached (at most 9), in their order.
    async fn images(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<crate::upload::Model>> {
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(ImagesOfWish(self.id))
            .await
            .map_err(internal)?
            .unwrap_or_default())
    }

    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The resident who posted the wish.
    async fn poster(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::users::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(self.poster_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("wish points at a missing poster"))
    }

    /// Who took it on; null while OPEN or CANCELLED.
    async fn claimant(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::users::Model>> {
        let Some(id) = self.claimant_id else {
            return Ok(None);
        };
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(id))
            .await
            .map_err(internal)
    }

    /// The poster's home area when the wish was posted.
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::area::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(self.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("wish points at a missing area"))
    }

    /// Every transition, oldest first: the audit trail.
    async fn events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::wish_event::Model>> {
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(EventsOfWish(self.id))
            .await
            .map_err(internal)?
            .unwrap_or_default())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
