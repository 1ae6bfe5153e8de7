use async_graphql::SimpleObject;
use sea_orm::entity::prelude::*;

pub use crate::sea_orm_active_enums::PointAction;

/// Points an action earns, and how often a day one user may earn them.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, SimpleObject)]
#[sea_orm(table_name = "point_rule")]
#[graphql(name = "PointRule")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub action: PointAction,
    /// Points per occurrence.
    pub points: i32,
    /// Awards of this action one user may earn per day (Asia/Shanghai); null for no cap.
    pub daily_cap: Option<i32>,
    #[graphql(skip)]
    pub updated_by: Option<i64>,
    #[graphql(skip)]
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
