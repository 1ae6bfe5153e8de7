//! Uploaded images and the wishes and errands that show them.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per user per upload; identical bytes share one stored object.
        manager
            .create_table(
                Table::create()
                    .table("upload")
                    .col(big_pk_auto("id"))
                    .col(big_integer("owner_id"))
                    .col(string_len("object_key", 80))
                    .col(string_len("content_type", 32))
                    .col(big_integer("size"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("upload", "owner_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("upload", "ix_upload_owner", &["owner_id"], false))
            .await?;
        manager
            .create_index(index(
                "upload",
                "ix_upload_object_key",
                &["object_key"],
                false,
            ))
            .await?;
        for (table, owner, owner_table) in [
            ("wish_image", "wish_id", "wish"),
            ("order_image", "order_id", "service_order"),
        ] {
            manager
                .create_table(
                    Table::create()
                        .table(table)
                        .col(big_integer(owner))
                        .col(integer("position"))
                        .col(big_integer("upload_id"))
                        .primary_key(Index::create().col(owner).col("position"))
                        .foreign_key(&mut fk(table, owner, owner_table))
                        .foreign_key(&mut fk(table, "upload_id", "upload"))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(index(
                    table,
                    &format!("ix_{table}_upload"),
                    &["upload_id"],
                    false,
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["order_image", "wish_image", "upload"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
