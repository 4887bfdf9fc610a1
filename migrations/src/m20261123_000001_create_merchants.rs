use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                with_timestamps(
                    Table::create()
                        .table("merchants")
                        .col(id_pk())
                        .col(string("name"))
                        // Prefix of merchant-facing invoice numbers, e.g. "ACME" -> ACME-000042.
                        .col(string_len("invoice_prefix", 16))
                        .col(big_integer("next_invoice_number").default(1))
                        .col(json("settings")),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                with_timestamps(
                    Table::create()
                        .table("merchant_users")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(string("email"))
                        .col(string("password_hash"))
                        .col(string_len("role", 16))
                        .foreign_key(&mut fk("merchant_users", "merchant_id", "merchants")),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(string("name"))
                    .col(string_len("mode", 8))
                    .col(string_len("prefix", 32))
                    .col(string_len("secret_hash", 128))
                    .col(ts("created_at"))
                    .col(ts_null("last_used_at"))
                    .col(ts_null("revoked_at"))
                    .foreign_key(&mut fk("api_keys", "merchant_id", "merchants"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                unique_index("merchant_users", "email", &["email"]),
                index("merchant_users", "merchant", &["merchant_id"]),
                unique_index("api_keys", "secret_hash", &["secret_hash"]),
                index("api_keys", "merchant", &["merchant_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["api_keys", "merchant_users", "merchants"]).await
    }
}
