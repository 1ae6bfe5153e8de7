//! Database connection, migrations and the rows that must exist from the first start.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use entity::{area, sea_orm_active_enums::AreaKind};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, Database, DatabaseConnection, EntityTrait,
    QueryFilter, Set,
};

/// A pool for a command-line task.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, 10).await
}

/// A pool of at most `max_connections` (SQLite, which writes one at a time, takes at most 8).
pub async fn connect_with(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    if let Some(dir) = sqlite_file(url)
        .and_then(|path| Path::new(path).parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .max_connections(if url.starts_with("sqlite") {
            max_connections.min(8)
        } else {
            max_connections
        })
        .min_connections(1)
        // WAL lets readers go on while one writer commits; the busy timeout makes concurrent
        // writers wait for the lock instead of failing at once.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    let db = Database::connect(opts)
        .await
        .context("connecting to the database")?;
    Ok(db)
}

fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .context("applying migrations")?;
    Ok(())
}

/// The root DISTRICT area exists from the first start, named after the configured district.
pub async fn ensure_root_area(
    db: &DatabaseConnection,
    district_name: &str,
) -> anyhow::Result<area::Model> {
    if let Some(root) = area::Entity::find()
        .filter(area::Column::ParentId.is_null())
        .one(db)
        .await?
    {
        return Ok(root);
    }
    let now = Utc::now();
    let row = area::ActiveModel {
        parent_id: Set(None),
        kind: Set(AreaKind::District),
        name: Set(district_name.to_owned()),
        path: Set(String::new()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let mut active: area::ActiveModel = row.into();
    active.path = Set(format!("/{}/", active.id.as_ref()));
    Ok(active.update(db).await?)
}

/// The district: the one area without a parent.
pub async fn root_area(db: &impl sea_orm::ConnectionTrait) -> crate::error::AppResult<area::Model> {
    area::Entity::find()
        .filter(area::Column::ParentId.is_null())
        .one(db)
        .await?
        .ok_or_else(|| crate::error::AppError::not_found("root area"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_sqlite_file() {
        assert_eq!(
            super::sqlite_file("sqlite://data/emulin.db?mode=rwc"),
            Some("data/emulin.db")
        );
        assert_eq!(super::sqlite_file("sqlite::memory:"), None);
        assert_eq!(super::sqlite_file("postgres://x/y"), None);
    }
}
