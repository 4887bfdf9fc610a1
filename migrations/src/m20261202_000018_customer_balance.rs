use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Every received msat is on an invoice or in its customer's balance:
        // money no invoice could take is held as credit, and credit is taken
        // off the customer's next invoice (`credit_applied_msat`).
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .add_column(big_integer("balance_msat").default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("invoices")
                    .add_column(big_integer("credit_applied_msat").default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("invoices")
                    .drop_column("credit_applied_msat")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("customers")
                    .drop_column("balance_msat")
                    .to_owned(),
            )
            .await
    }
}
