use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{AreaById, PartyOrgById, RequestLoader};

/// A party organisation (区委, 街道党工委, 社区党委, 小区/网格党组织, 楼栋党小组), bound to an area.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "party_org")]
#[graphql(name = "PartyOrg", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub parent_id: Option<i64>,
    #[graphql(skip)]
    pub area_id: i64,
    /// Name, 1..50 characters.
    pub name: String,
    #[graphql(skip)]
    pub path: String,
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The area the organisation serves.
    async fn area(&self, ctx: &Context<'_>) -> async_graphql::Result<crate::area::Model> {
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(self.area_id))
            .await
            .map_err(internal)?
            .ok_or_else(|| internal("party organisation points at a missing area"))
    }

    /// The organisation one level up; null for the top.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Model>> {
        let Some(parent_id) = self.parent_id else {
            return Ok(None);
        };
        ctx.data_unchecked::<RequestLoader>()
            .load_one(PartyOrgById(parent_id))
            .await
            .map_err(internal)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::area::Entity",
        from = "Column::AreaId",
        to = "super::area::Column::Id"
    )]
    Area,
}

impl Related<super::area::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Area.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
