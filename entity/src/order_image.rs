use sea_orm::entity::prelude::*;

/// An image of an errand, in the order the author gave.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_image")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: i64,
    /// 0-based place among the images.
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    pub upload_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::upload::Entity",
        from = "Column::UploadId",
        to = "super::upload::Column::Id"
    )]
    Upload,
}

impl Related<super::upload::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Upload.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
