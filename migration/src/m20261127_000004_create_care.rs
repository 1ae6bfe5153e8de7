//! 睦邻卡: the contacts set at areas and the neighbour cards.

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
                    .table("area_contact")
                    .col(big_pk_auto("id"))
                    .col(big_integer("area_id"))
                    .col(string_len("kind", 16))
                    .col(string_len("name", 64))
                    .col(string_len("phone", 32))
                    .col(big_integer_null("updated_by"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("area_contact", "area_id", "area"))
                    .foreign_key(&mut fk("area_contact", "updated_by", "users"))
                    .to_owned(),
            )
            .await?;
        // One contact per kind and area; a card's contacts are `area_id IN (<the home's path>)`.
        manager
            .create_index(index(
                "area_contact",
                "ux_area_contact_area_kind",
                &["area_id", "kind"],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("neighbor_card")
                    .col(big_pk_auto("id"))
                    .col(big_integer("holder_id"))
                    .col(string_len("reason", 16))
                    .col(text_null("note_encrypted"))
                    .col(big_integer_null("paired_neighbor_id"))
                    .col(big_integer("issued_by"))
                    .col(big_integer("area_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("neighbor_card", "holder_id", "users"))
                    .foreign_key(&mut fk("neighbor_card", "paired_neighbor_id", "users"))
                    .foreign_key(&mut fk("neighbor_card", "issued_by", "users"))
                    .foreign_key(&mut fk("neighbor_card", "area_id", "area"))
                    .to_owned(),
            )
            .await?;
        // One card per holder (and the holder's own card found by it); the cards of a subtree
        // paged newest first.
        manager
            .create_index(index(
                "neighbor_card",
                "ux_neighbor_card_holder",
                &["holder_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "neighbor_card",
                "ix_neighbor_card_area",
                &["area_id", "id"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["neighbor_card", "area_contact"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
