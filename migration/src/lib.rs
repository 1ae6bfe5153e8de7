//! Schema migrations, applied in order at every start (`emulin migrate` runs them alone).

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_create_areas_users_roles;
mod m20261127_000002_create_wishes_points;
mod m20261127_000003_create_orders;
mod m20261127_000004_create_care;
mod m20261127_000005_create_notify;
mod m20261127_000006_content_review;
mod m20261127_000007_create_uploads;
mod m20261127_000008_create_audit_log;
mod m20261127_000009_prefix_indexes;
mod util;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_areas_users_roles::Migration),
            Box::new(m20261127_000002_create_wishes_points::Migration),
            Box::new(m20261127_000003_create_orders::Migration),
            Box::new(m20261127_000004_create_care::Migration),
            Box::new(m20261127_000005_create_notify::Migration),
            Box::new(m20261127_000006_content_review::Migration),
            Box::new(m20261127_000007_create_uploads::Migration),
            Box::new(m20261127_000008_create_audit_log::Migration),
            Box::new(m20261127_000009_prefix_indexes::Migration),
        ]
    }
}
