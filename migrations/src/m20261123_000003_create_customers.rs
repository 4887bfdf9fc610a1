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
                        .table("customers")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(string_null("email"))
                        .col(string_null("name"))
                        .col(string_null("external_id"))
                        // 33-byte compressed public key, hex.
                        .col(string_len_null("node_id", 66))
                        // pubkey@host:port
                        .col(string_null("node_address"))
                        .col(json("metadata"))
                        .col(ts_null("deleted_at"))
                        .foreign_key(&mut fk("customers", "merchant_id", "merchants")),
                )
                .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("customers", "merchant", &["merchant_id", "id"]),
                index("customers", "node_id", &["node_id"]),
            ],
        )
        .await?;
        // A merchant's external ids are unique among live customers; a deleted
        // customer's id may be reused. Partial indexes read the same on both backends.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_customers_external_id ON customers (merchant_id, external_id) \
                 WHERE deleted_at IS NULL AND external_id IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["customers"]).await
    }
}
