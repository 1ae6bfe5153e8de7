use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{PartyOrgById, RequestLoader, UserById};
pub use crate::sea_orm_active_enums::{MemberCategory, MemberStatus};

/// A user's membership of a party organisation, verified by an admin in scope.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "party_member")]
#[graphql(name = "PartyMember", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[sea_orm(unique)]
    #[graphql(skip)]
    pub user_id: i64,
    #[graphql(skip)]
    pub party_org_id: i64,
    /// 四类党员 category.
    pub category: MemberCategory,
    /// Work unit of an in-service member (双报到); null for the others.
    pub work_unit: Option<String>,
    /// PENDING until an admin in scope answers.
    pub status: MemberStatus,
    #[graphql(skip)]
    pub verified_by: Option<i64>,
    /// When an admin answered the registration.
    pub verified_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The member.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::users::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(UserById(self.user_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("party member points at a missing user"))
    }

    /// The organisation the member belongs to.
    async fn party_org(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::party_org::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(PartyOrgById(self.party_org_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("party member points at a missing organisation"))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::party_org::Entity",
        from = "Column::PartyOrgId",
        to = "super::party_org::Column::Id"
    )]
    PartyOrg,
}

impl Related<super::party_org::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::PartyOrg.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
