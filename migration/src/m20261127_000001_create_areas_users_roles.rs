//! The foundation: the area tree, users, role grants and the party organisation tree.

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
                    .table("area")
                    .col(big_pk_auto("id"))
                    .col(big_integer_null("parent_id"))
                    .col(string_len("kind", 16))
                    .col(string_len("name", 64))
                    .col(string_len("path", 255))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("area", "parent_id", "area"))
                    .to_owned(),
            )
            .await?;
        // Prefix scans on the materialised path answer "everything under X"; text_pattern_ops
        // would be needed for LIKE on a non-C collation, so queries use a range instead.
        manager
            .create_index(index("area", "ix_area_path", &["path"], false))
            .await?;
        manager
            .create_index(index(
                "area",
                "ux_area_parent_name",
                &["parent_id", "name"],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(big_pk_auto("id"))
                    .col(string_len_uniq("openid", 64))
                    .col(string_len_null("unionid", 64))
                    .col(string_len_null("session_key", 128))
                    .col(string_len("nickname", 64))
                    .col(string_len_null("avatar_url", 512))
                    .col(string_len_null("phone", 32))
                    .col(big_integer_null("home_area_id"))
                    .col(string_len_null("room", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut fk("users", "home_area_id", "area"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "users",
                "ix_users_home_area",
                &["home_area_id"],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("role_grant")
                    .col(big_pk_auto("id"))
                    .col(big_integer("user_id"))
                    .col(string_len("role", 24))
                    .col(big_integer("area_id"))
                    .col(big_integer_null("granted_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("role_grant", "user_id", "users"))
                    .foreign_key(&mut fk("role_grant", "area_id", "area"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "role_grant",
                "ux_role_grant",
                &["user_id", "role", "area_id"],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "role_grant",
                "ix_role_grant_area",
                &["area_id", "role"],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("party_org")
                    .col(big_pk_auto("id"))
                    .col(big_integer_null("parent_id"))
                    .col(big_integer("area_id"))
                    .col(string_len("name", 64))
                    .col(string_len("path", 255))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("party_org", "parent_id", "party_org"))
                    .foreign_key(&mut fk("party_org", "area_id", "area"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("party_org", "ix_party_org_area", &["area_id"], false))
            .await?;
        manager
            .create_index(index("party_org", "ix_party_org_path", &["path"], false))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("party_member")
                    .col(big_pk_auto("id"))
                    .col(big_integer_uniq("user_id"))
                    .col(big_integer("party_org_id"))
                    .col(string_len("category", 16))
                    .col(string_len_null("work_unit", 128))
                    .col(string_len("status", 16))
                    .col(big_integer_null("verified_by"))
                    .col(timestamp_with_time_zone_null("verified_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut fk("party_member", "user_id", "users"))
                    .foreign_key(&mut fk("party_member", "party_org_id", "party_org"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "party_member",
                "ix_party_member_org_status",
                &["party_org_id", "status", "id"],
                false,
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["party_member", "party_org", "role_grant", "users", "area"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
