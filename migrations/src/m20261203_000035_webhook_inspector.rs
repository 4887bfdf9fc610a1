use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The sandbox's webhook inspector: requests POSTed to
/// `/sandbox/inspector/{merchant}`, kept (the newest 100 per merchant) for the
/// dashboard to show with their headers, body and whether a signature of
/// the merchant's endpoints verifies.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_inspector_requests")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(ts("received_at"))
                    .col(string_len_null("webhook_id", 200))
                    .col(string_len_null("webhook_timestamp", 40))
                    .col(text_null("webhook_signature"))
                    .col(text("headers"))
                    .col(text("body"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index(
                "webhook_inspector_requests",
                "merchant",
                &["merchant_id", "id"],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["webhook_inspector_requests"]).await
    }
}
