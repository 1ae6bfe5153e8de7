//! Uploaded images: `POST /upload` as `wx.uploadFile` sends it, and `GET /media/{key}`.
//!
//! The bytes decide the type (JPEG, PNG, WebP), never the name. Objects are content-addressed
//! (hex SHA-256 of the bytes plus the extension), so identical bytes are stored once however often
//! they are uploaded, and a key's content never changes. The store is the local file system under
//! MEDIA_DIR by default, or an S3-compatible bucket (MEDIA_S3_BUCKET) for several nodes. Each upload
//! is still a row of its own, owned by its uploader: only the owner may attach it.

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::Context as _;
use async_graphql::ID;
use chrono::Utc;
use entity::upload;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use sha2::{Digest, Sha256};

use crate::config::MediaConfig;
use crate::error::{AppError, AppResult};

/// Largest image accepted: 5 MiB.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// Images a wish or an errand may carry, as many as WeChat's picker allows.
pub const MAX_IMAGES: usize = 9;

pub type DynObjectStore = Arc<dyn ObjectStore>;

/// Opens the configured store: the S3 bucket when MEDIA_S3_BUCKET is set (credentials, region
/// and endpoint from the AWS_* variables), else the directory MEDIA_DIR, created if missing.
pub fn open(config: &MediaConfig) -> anyhow::Result<DynObjectStore> {
    if let Some(bucket) = &config.s3_bucket {
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .context("configuring the S3 media store (MEDIA_S3_BUCKET, AWS_*)")?;
        return Ok(Arc::new(store));
    }
    std::fs::create_dir_all(&config.dir)
        .with_context(|| format!("creating MEDIA_DIR {}", config.dir.display()))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(&config.dir)
        .with_context(|| format!("opening MEDIA_DIR {}", config.dir.display()))?;
    Ok(Arc::new(store))
}

/// An image type the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
}

impl ImageKind {
    /// Judges the bytes by their signature; anything else is not an image here.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "jpg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }
}

/// The content address of an image: hex SHA-256 of its bytes and its extension.
pub fn object_key(bytes: &[u8], kind: ImageKind) -> String {
    format!(
        "{}.{}",
        hex::encode(Sha256::digest(bytes)),
        kind.extension()
    )
}

/// The type of a well-formed key (64 lower-case hex digits, a dot, a known extension); anything
/// else names no object.
pub fn parse_key(key: &str) -> Option<ImageKind> {
    let (hash, ext) = key.split_once('.')?;
    let hex = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex {
        ImageKind::from_extension(ext)
    } else {
        None
    }
}

/// Stores the image (unless the same bytes are there already) and records the upload.
pub async fn save(
    db: &impl ConnectionTrait,
    store: &dyn ObjectStore,
    owner_id: i64,
    bytes: Vec<u8>,
    kind: ImageKind,
) -> AppResult<upload::Model> {
    let key = object_key(&bytes, kind);
    let path = ObjectPath::from(key.as_str());
    let size = i64::try_from(bytes.len()).map_err(AppError::internal)?;
    match store.head(&path).await {
        Ok(_) => {}
        Err(object_store::Error::NotFound { .. }) => {
            store
                .put(&path, bytes.into())
                .await
                .map_err(AppError::internal)?;
        }
        Err(err) => return Err(AppError::internal(err)),
    }
    let row = upload::ActiveModel {
        owner_id: Set(owner_id),
        object_key: Set(key),
        content_type: Set(kind.content_type().to_owned()),
        size: Set(size),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row)
}

/// Checks the image ids a mutation was given: at most nine, none twice, every one an upload of
/// `owner`. Answers the upload ids in the order given.
pub async fn owned_images(
    db: &impl ConnectionTrait,
    owner: i64,
    ids: Option<&[ID]>,
) -> AppResult<Vec<i64>> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_IMAGES {
        return Err(AppError::bad_input(format!("at most {MAX_IMAGES} images")));
    }
    let mut parsed = Vec::with_capacity(ids.len());
    for id in ids {
        let id = id
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| AppError::bad_input("not your upload"))?;
        parsed.push(id);
    }
    if parsed.iter().collect::<HashSet<_>>().len() != parsed.len() {
        return Err(AppError::bad_input("an image is given twice"));
    }
    if parsed.is_empty() {
        return Ok(parsed);
    }
    let mine = upload::Entity::find()
        .filter(upload::Column::Id.is_in(parsed.iter().copied()))
        .filter(upload::Column::OwnerId.eq(owner))
        .count(db)
        .await?;
    if mine != parsed.len() as u64 {
        return Err(AppError::bad_input("not your upload"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_decide_the_type() {
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n\0\0"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\x10\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        for not_image in [
            &b""[..],
            b"\xFF\xD8",
            b"\x89PNG",
            b"RIFF\x10\0\0\0WAVEfmt ",
            b"GIF89a",
            b"hello",
        ] {
            assert_eq!(ImageKind::sniff(not_image), None, "{not_image:?}");
        }
    }

    #[test]
    fn keys_are_content_addresses() {
        let key = object_key(b"abc", ImageKind::Png);
        assert_eq!(
            key,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.png"
        );
        assert_eq!(parse_key(&key), Some(ImageKind::Png));
        assert_eq!(parse_key(&key.replace(".png", ".gif")), None);
        assert_eq!(parse_key(&key.to_uppercase()), None);
        assert_eq!(parse_key("../etc/passwd"), None);
        assert_eq!(parse_key("abc.png"), None);
    }
}
