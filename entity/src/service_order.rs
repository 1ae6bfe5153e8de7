use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::{CurrentUserId, Decrypt, internal};
use crate::loader::{
    AreaById, EventsOfOrder, ImagesOfOrder, RequestLoader, ServiceItemById, UserById,
};
pub use crate::sea_orm_active_enums::OrderStatus;

/// The resident's rating of a finished errand (评单).
#[derive(Clone, Debug, PartialEq, Eq, SimpleObject)]
#[graphql(name = "OrderRating")]
pub struct Rating {
    /// 1..5.
    pub stars: i32,
    pub comment: Option<String>,
}

/// An errand (帮办代办) a resident ordered from the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "service_order")]
#[graphql(name = "Order", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub resident_id: i64,
    #[graphql(skip)]
    pub service_item_id: i64,
    #[graphql(skip)]
    pub area_id: i64,
    /// What the resident needs, 1..500 characters.
    pub description: String,
    /// Encrypted; read through `contactPhoneMasked`, or `contactPhone` by the participants.
    #[graphql(skip)]
    pub contact_phone: String,
    /// The phone masked like 139****5678.
    pub contact_phone_masked: String,
    pub status: OrderStatus,
    #[graphql(skip)]
    pub steward_id: Option<i64>,
    #[graphql(skip)]
    pub assignee_id: Option<i64>,
    /// Why staff turned the errand down.
    pub reject_reason: Option<String>,
    #[graphql(skip)]
    pub rating_stars: Option<i32>,
    #[graphql(skip)]
    pub rating_comment: Option<String>,
    /// Content security suggested a person look at some of its text; staff review it.
    pub needs_review: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    /// The images the author attached (at most 9), in their order.
    async fn images(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<crate::upload::Model>> {
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(ImagesOfOrder(self.id))
            .await
            .map_err(internal)?
            .unwrap_or_default())
    }

    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The contact phone in full: only for the resident, the accepting steward and the assignee;
    /// null for anyone else.
    async fn contact_phone(&self, ctx: &Context<'_>) -> Option<String> {
        let viewer = ctx.data_opt::<CurrentUserId>()?.0;
        let participant = viewer == self.resident_id
            || Some(viewer) == self.steward_id
            || Some(viewer) == self.assignee_id;
        if !participant {
            return None;
        }
        ctx.data_opt::<std::sync::Arc<dyn Decrypt>>()?
            .decrypt(&self.contact_phone)
    }

    /// The catalogue item ordered.
    async fn service_item(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<crate::service_item::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(ServiceItemById(self.service_item_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("order points at a missing service item"))
    }

    /// The resident's home area.
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::area::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(self.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("order points at a missing area"))
    }

    /// Who ordered it.
    async fn resident(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::users::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(self.resident_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("order points at a missing resident"))
    }

    /// The steward or grid worker who accepted it.
    async fn steward(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::users::Model>> {
        let Some(id) = self.steward_id else {
            return Ok(None);
        };
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(id))
            .await
            .map_err(internal)
    }

    /// The property staff member or volunteer it was dispatched to.
    async fn assignee(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::users::Model>> {
        let Some(id) = self.assignee_id else {
            return Ok(None);
        };
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(id))
            .await
            .map_err(internal)
    }

    /// The resident's rating, once given.
    async fn rating(&self) -> Option<Rating> {
        self.rating_stars.map(|stars| Rating {
            stars,
            comment: self.rating_comment.clone(),
        })
    }

    /// Every transition, oldest first.
    async fn events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::order_event::Model>> {
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(EventsOfOrder(self.id))
            .await
            .map_err(internal)?
            .unwrap_or_default())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
