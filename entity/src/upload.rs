use async_graphql::{ID, Object};
use sea_orm::entity::prelude::*;

/// Where uploaded objects are served from: `/media/<object key>`.
pub const MEDIA_PATH: &str = "/media/";

/// An image a user uploaded (`POST /upload`). The bytes are stored once under their SHA-256,
/// however many users upload them; each upload is its own row, owned by its uploader.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "upload")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub owner_id: i64,
    /// Hex SHA-256 of the bytes and an extension, e.g. `ab12….png`.
    pub object_key: String,
    pub content_type: String,
    pub size: i64,
    pub created_at: DateTimeUtc,
}

impl Model {
    /// The path that serves the image.
    pub fn media_url(&self) -> String {
        format!("{MEDIA_PATH}{}", self.object_key)
    }
}

/// An uploaded image.
#[Object(name = "Image")]
impl Model {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// Serves the image (a path on this server); its content never changes.
    async fn url(&self) -> String {
        self.media_url()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
