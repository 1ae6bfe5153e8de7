use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::{CurrentUserId, internal, mask_phone};
use crate::loader::{AreaById, RequestLoader, RolesOfUser};

/// A person who signed in through the mini-program: resident, party member, volunteer, staff or
/// admin, depending on the roles held.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "users")]
#[graphql(name = "User", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[sea_orm(unique)]
    #[graphql(skip)]
    pub openid: String,
    #[graphql(skip)]
    pub unionid: Option<String>,
    #[graphql(skip)]
    pub session_key: Option<String>,
    /// Display name, 1..32 characters.
    pub nickname: String,
    /// Avatar image address.
    pub avatar_url: Option<String>,
    #[graphql(skip)]
    pub phone: Option<String>,
    #[graphql(skip)]
    pub home_area_id: Option<i64>,
    #[graphql(skip)]
    pub room: Option<String>,
    pub created_at: DateTimeUtc,
    #[graphql(skip)]
    pub updated_at: DateTimeUtc,
}

impl Model {
    // Personal data goes to its owner only; staff reach residents' details through the guarded
    // resolvers of the capabilities that need them.
    fn visible_to_viewer(&self, ctx: &Context<'_>) -> bool {
        ctx.data_opt::<CurrentUserId>() == Some(&CurrentUserId(self.id))
    }
}

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The bound phone number, masked like 139****0042. Null until a phone is bound, and null to
    /// anyone but the user.
    async fn phone_masked(&self, ctx: &Context<'_>) -> Option<String> {
        if !self.visible_to_viewer(ctx) {
            return None;
        }
        self.phone.as_deref().map(mask_phone)
    }

    /// The room within the home ("3-2-501"); only the user sees it.
    async fn room(&self, ctx: &Context<'_>) -> Option<String> {
        if !self.visible_to_viewer(ctx) {
            return None;
        }
        self.room.clone()
    }

    /// The home compound or building; null until bound.
    async fn home(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<crate::area::Model>> {
        let Some(area_id) = self.home_area_id else {
            return Ok(None);
        };
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(area_id))
            .await
            .map_err(internal)
    }

    /// Roles held, each at an area whose subtree it covers.
    async fn roles(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::role_grant::Model>> {
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(RolesOfUser(self.id))
            .await
            .map_err(internal)?
            .unwrap_or_default())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::area::Entity",
        from = "Column::HomeAreaId",
        to = "super::area::Column::Id"
    )]
    Home,
}

impl Related<super::area::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Home.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
