use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per `Idempotency-Key` a merchant sent on a POST. The row is
        // written before the request runs (status null: in progress) and
        // completed with the response, which later retries replay.
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(id_ref("merchant_id"))
                    .col(string_len("key", 255))
                    // SHA-256 (hex) of method, path and body.
                    .col(string_len("request_hash", 64))
                    .col(integer_null("response_status"))
                    .col(text_null("response_body"))
                    .col(ts("created_at"))
                    .primary_key(Index::create().col("merchant_id").col("key"))
                    .foreign_key(&mut fk("idempotency_keys", "merchant_id", "merchants"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index("idempotency_keys", "created", &["created_at"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["idempotency_keys"]).await
    }
}
