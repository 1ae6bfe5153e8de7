use async_graphql::{ComplexObject, Context, ID, SimpleObject};
use sea_orm::entity::prelude::*;

use crate::context::internal;
use crate::loader::{AreaById, AreaChildren, RequestLoader};
pub use crate::sea_orm_active_enums::AreaKind;

/// A node of the district's area tree: district, street, community, compound, grid or building.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "area")]
#[graphql(name = "Area", complex)]
pub struct Model {
    #[sea_orm(primary_key)]
    #[graphql(skip)]
    pub id: i64,
    #[graphql(skip)]
    pub parent_id: Option<i64>,
    /// Level in the tree.
    pub kind: AreaKind,
    /// Display name, e.g. 金泽华府.
    pub name: String,
    /// Materialised path of ids, `/1/12/130/`: "everything under X" is one prefix match.
    #[graphql(skip)]
    pub path: String,
    pub created_at: DateTimeUtc,
}

#[ComplexObject]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The area one level up; null for the district.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Model>> {
        let Some(parent_id) = self.parent_id else {
            return Ok(None);
        };
        ctx.data_unchecked::<RequestLoader>()
            .load_one(AreaById(parent_id))
            .await
            .map_err(internal)
    }

    /// The areas directly below, in creation order.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Model>> {
        Ok(ctx
            .data_unchecked::<RequestLoader>()
            .load_one(AreaChildren(self.id))
            .await
            .map_err(internal)?
            .unwrap_or_default())
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(belongs_to = "Entity", from = "Column::ParentId", to = "Column::Id")]
    Parent,
}

impl ActiveModelBehavior for ActiveModel {}
