use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The deployment's Lightning node as the node role last started it: its
/// node id and the `host:port` subscribers reach it at. One row (`id` =
/// `node`). The web role reads it to write subscribe codes, so it need not
/// run the node itself.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("node_identity")
                    .col(string_len("id", 16).primary_key())
                    .col(string_len("node_id", 66))
                    .col(string_len("address", 256))
                    .col(ts("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["node_identity"]).await
    }
}
