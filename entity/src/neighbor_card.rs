use std::sync::Arc;

use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{AreaById, ContactsOnPath, RequestLoader, UserById};
pub use crate::sea_orm_active_enums::CardReason;

/// 睦邻卡: a card for an elderly person living alone, a disabled person or another resident in
/// need. It shows whom to call, the paired neighbour (邻里结对) and the errands that can be ordered
/// for the holder. Seen whole by its holder and by staff whose scope covers the holder's home; the
/// paired neighbour sees the contacts, the services and the pairing only.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "neighbor_card")]
#[graphql(name = "NeighborCard", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    /// One card per holder.
    #[sea_orm(unique)]
    #[graphql(skip)]
    pub holder_id: i64,
    /// Why the holder needs looking after.
    pub reason: CardReason,
    /// Encrypted; read through `note` by the holder and staff in scope.
    #[graphql(skip)]
    pub note_encrypted: Option<String>,
    #[graphql(skip)]
    pub paired_neighbor_id: Option<i64>,
    #[graphql(skip)]
    pub issued_by: i64,
    /// The holder's home when the card was issued: it decides the contacts, the services and
    /// which staff may see the card.
    #[graphql(skip)]
    pub area_id: i64,
    /// Content security suggested a person look at the note; staff review it.
    pub needs_review: bool,
    /// When the card was issued.
    pub created_at: DateTimeUtc,
}

/// How much of a card the viewer of a request may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardAccess {
    /// The holder: the whole card.
    Holder,
    /// Staff whose scope covers the holder's home: the whole card; reading the note is audited.
    Staff,
    /// The paired neighbour: contacts, services and the pairing, not the holder or the note.
    PairedNeighbor,
    /// Anyone else: nothing.
    Denied,
}

impl CardAccess {
    /// The holder's identity, home and note.
    pub fn whole_card(self) -> bool {
        matches!(self, CardAccess::Holder | CardAccess::Staff)
    }

    /// Contacts, services and the pairing.
    pub fn any(self) -> bool {
        self != CardAccess::Denied
    }
}

/// What only the server can work out for a card: who may see how much of it, the note in the
/// clear, and the errands offered at the holder's home. The server puts one into the schema's data
/// as `Arc<dyn CardServer>`; the card's resolvers ask it.
#[async_graphql::async_trait::async_trait]
pub trait CardServer: Send + Sync {
    /// How much of `card` the viewer of this request may see.
    async fn access(&self, ctx: &Context<'_>, card: &Model) -> async_graphql::Result<CardAccess>;

    /// The note in the clear, or null when there is none or the viewer may not read it.
    async fn note(&self, ctx: &Context<'_>, card: &Model) -> async_graphql::Result<Option<String>>;

    /// The 帮办代办 errands offered at the card's home.
    async fn services(
        &self,
        ctx: &Context<'_>,
        card: &Model,
    ) -> async_graphql::Result<Vec<crate::service_item::Model>>;
}

impl Model {
    fn server<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Arc<dyn CardServer>> {
        ctx.data::<Arc<dyn CardServer>>()
            .map_err(|_| internal("no card server in the schema data"))
    }

    async fn access(&self, ctx: &Context<'_>) -> async_graphql::Result<CardAccess> {
        Self::server(ctx)?.access(ctx, self).await
    }

    async fn home(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::area::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(self.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("neighbour card points at a missing area"))
    }
}

#[ComplexObject]
impl Model {
    /// Opaque id of the card.
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The resident the card is for. Null to the paired neighbour.
    async fn holder(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::users::Model>> {
        if !self.access(ctx).await?.whole_card() {
            return Ok(None);
        }
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(self.holder_id))
            .await
            .map_err(internal)
    }

    /// What the issuer wrote about the holder's needs, up to 500 characters; stored encrypted.
    /// Null when none was written, and null to the paired neighbour.
    async fn note(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Self::server(ctx)?.note(ctx, self).await
    }

    /// The holder's home when the card was issued. Null to the paired neighbour.
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<crate::area::Model>> {
        if !self.access(ctx).await?.whole_card() {
            return Ok(None);
        }
        self.home(ctx).await.map(Some)
    }

    /// Whom to call, one per kind (POLICE, BUILDING_LEADER, GRID_WORKER, PROPERTY, in that
    /// order): for each kind the contact set at the nearest area at or above the holder's home.
    /// Kinds nobody has set are left out.
    async fn contacts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::area_contact::Model>> {
        if !self.access(ctx).await?.any() {
            return Ok(Vec::new());
        }
        let home = self.home(ctx).await?;
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(ContactsOnPath(home.path))
            .await
            .map_err(internal)?
            .unwrap_or_default())
    }

    /// The neighbour paired with the holder (邻里结对) to look in on them; null until paired.
    async fn paired_neighbor(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::users::Model>> {
        let Some(id) = self.paired_neighbor_id else {
            return Ok(None);
        };
        if !self.access(ctx).await?.any() {
            return Ok(None);
        }
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(id))
            .await
            .map_err(internal)
    }

    /// The 帮办代办 errands that can be ordered for the holder: those offered at the holder's home.
    async fn services(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::service_item::Model>> {
        if !self.access(ctx).await?.any() {
            return Ok(Vec::new());
        }
        Self::server(ctx)?.services(ctx, self).await
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
