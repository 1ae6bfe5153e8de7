//! Subscribe messages: what each user accepted, and the durable outbox.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("subscription_quota")
                    .col(big_integer("user_id"))
                    .col(string_len("template_id", 64))
                    .col(integer("remaining"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("user_id").col("template_id"))
                    .foreign_key(&mut fk("subscription_quota", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("outbox")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("template_id", 64))
                    .col(string_len("page", 255))
                    .col(text("payload"))
                    .col(string_len("status", 16))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(string_len_null("last_error", 255))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .foreign_key(&mut fk("outbox", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        // The worker's scan: pending messages that are due, oldest first.
        manager
            .create_index(index(
                "outbox",
                "ix_outbox_due",
                &["status", "next_attempt_at", "id"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["outbox", "subscription_quota"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
