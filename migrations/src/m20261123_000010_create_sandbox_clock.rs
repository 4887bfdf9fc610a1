use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The sandbox's test clock, shared by every process on the database and
        // kept across restarts. Never read on mainnet.
        manager
            .create_table(
                Table::create()
                    .table("sandbox_clock")
                    .col(string_len("id", 16).primary_key())
                    .col(ts("now"))
                    .col(ts("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["sandbox_clock"]).await
    }
}
