use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The Lightning node is shared by every merchant of a deployment:
        // only an operator merchant may drive it (/v1/node).
        manager
            .alter_table(
                Table::alter()
                    .table("merchants")
                    .add_column(boolean("node_operator").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("merchants")
                    .drop_column("node_operator")
                    .to_owned(),
            )
            .await
    }
}
