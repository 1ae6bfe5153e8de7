//! 帮办代办: the service catalogue, orders and their event trail.

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
                    .table("service_item")
                    .col(big_pk_auto("id"))
                    .col(big_integer("area_id"))
                    .col(string_len("name", 64))
                    .col(string_len("description", 1024))
                    .col(big_integer_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("service_item", "area_id", "area"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "service_item",
                "ux_service_item_area_name",
                &["area_id", "name"],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("service_order")
                    .col(big_pk_auto("id"))
                    .col(big_integer("resident_id"))
                    .col(big_integer("service_item_id"))
                    .col(big_integer("area_id"))
                    .col(text("description"))
                    .col(string_len("contact_phone", 255))
                    .col(string_len("contact_phone_masked", 32))
                    .col(string_len("status", 16))
                    .col(big_integer_null("steward_id"))
                    .col(big_integer_null("assignee_id"))
                    .col(string_len_null("reject_reason", 255))
                    .col(integer_null("rating_stars"))
                    .col(string_len_null("rating_comment", 255))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("service_order", "resident_id", "users"))
                    .foreign_key(&mut fk("service_order", "service_item_id", "service_item"))
                    .foreign_key(&mut fk("service_order", "area_id", "area"))
                    .foreign_key(&mut fk("service_order", "steward_id", "users"))
                    .foreign_key(&mut fk("service_order", "assignee_id", "users"))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_service_order_status", &["status", "id"][..]),
            ("ix_service_order_area", &["area_id", "id"][..]),
            ("ix_service_order_resident", &["resident_id", "id"][..]),
            ("ix_service_order_steward", &["steward_id", "id"][..]),
            ("ix_service_order_assignee", &["assignee_id", "id"][..]),
        ] {
            manager
                .create_index(index("service_order", name, cols, false))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("order_event")
                    .col(big_pk_auto("id"))
                    .col(big_integer("order_id"))
                    .col(big_integer("actor_id"))
                    .col(string_len("action", 16))
                    .col(string_len_null("from_status", 16))
                    .col(string_len("to_status", 16))
                    .col(string_len_null("note", 255))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("order_event", "order_id", "service_order"))
                    .foreign_key(&mut fk("order_event", "actor_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "order_event",
                "ix_order_event_order",
                &["order_id", "id"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["order_event", "service_order", "service_item"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
