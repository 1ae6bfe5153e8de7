//! 微心愿 with their event trail, the points ledger and the point rules with their defaults.

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
                    .table("wish")
                    .col(big_pk_auto("id"))
                    .col(big_integer("poster_id"))
                    .col(big_integer("area_id"))
                    .col(string_len("title", 255))
                    .col(text("description"))
                    .col(string_len("category", 16))
                    .col(string_len("status", 16))
                    .col(big_integer_null("claimant_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("wish", "poster_id", "users"))
                    .foreign_key(&mut fk("wish", "claimant_id", "users"))
                    .foreign_key(&mut fk("wish", "area_id", "area"))
                    .to_owned(),
            )
            .await?;
        // Feeds page newest first (id DESC) within a filter: each filter leads an index ending in id.
        for (name, cols) in [
            ("ix_wish_status", &["status", "id"][..]),
            ("ix_wish_area", &["area_id", "id"][..]),
            ("ix_wish_poster", &["poster_id", "id"][..]),
            ("ix_wish_claimant", &["claimant_id", "id"][..]),
        ] {
            manager
                .create_index(index("wish", name, cols, false))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("wish_event")
                    .col(big_pk_auto("id"))
                    .col(big_integer("wish_id"))
                    .col(big_integer("actor_id"))
                    .col(string_len("action", 16))
                    .col(string_len_null("from_status", 16))
                    .col(string_len("to_status", 16))
                    .col(string_len_null("note", 255))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("wish_event", "wish_id", "wish"))
                    .foreign_key(&mut fk("wish_event", "actor_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "wish_event",
                "ix_wish_event_wish",
                &["wish_id", "id"],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("point_rule")
                    .col(string_len("action", 24).primary_key())
                    .col(integer("points"))
                    .col(integer_null("daily_cap"))
                    .col(big_integer_null("updated_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        let mut defaults = Query::insert();
        defaults
            .into_table("point_rule")
            .columns(["action", "points", "daily_cap", "updated_at"]);
        for (action, points) in [
            ("WISH_FULFILLED", 10),
            ("ORDER_COMPLETED", 5),
            ("ACTIVITY_ATTENDED", 3),
            ("COMMUNITY_REPORT", 2),
        ] {
            defaults.values_panic([
                action.into(),
                points.into(),
                Option::<i32>::None.into(),
                Expr::current_timestamp(),
            ]);
        }
        manager.exec_stmt(defaults).await?;

        manager
            .create_table(
                Table::create()
                    .table("point_entry")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(integer("delta"))
                    .col(string_len("reason", 255))
                    .col(string_len_null("action", 24))
                    .col(string_len("source_key", 128))
                    .col(big_integer_null("actor_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("point_entry", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        // The idempotency key: one entry per (user, source).
        manager
            .create_index(index(
                "point_entry",
                "ux_point_entry_source",
                &["user_id", "source_key"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "point_entry",
                "ix_point_entry_user",
                &["user_id", "id"],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "point_entry",
                "ix_point_entry_cap",
                &["user_id", "action", "created_at"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["point_entry", "point_rule", "wish_event", "wish"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
