use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A delivery being sent is leased until `locked_until` (wall-clock time): a
/// worker that dies mid-send leaves a lease that runs out, and the delivery
/// is picked up again. The lease also keeps one endpoint to one request in
/// flight.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_deliveries")
                    .add_column(ts_null("locked_until"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index(
                "webhook_deliveries",
                "endpoint",
                &["endpoint_id", "id"],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_webhook_deliveries_endpoint")
                    .table("webhook_deliveries")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("webhook_deliveries")
                    .drop_column("locked_until")
                    .to_owned(),
            )
            .await
    }
}
