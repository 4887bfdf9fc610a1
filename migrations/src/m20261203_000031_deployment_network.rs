use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The network a database belongs to (`sandbox`, `regtest`, ..., `mainnet`),
/// recorded by the first process that starts on it. One row (`id` =
/// `deployment`). A process configured for another network refuses to start
/// on it, so a sandbox's merchants, keys and subscriptions never run on a
/// real network by accident.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("deployment_network")
                    .col(string_len("id", 16).primary_key())
                    .col(string_len("network", 16))
                    .col(ts("created_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["deployment_network"]).await
    }
}
