use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Why the engine could not bill a subscription (e.g. a corrupt plan). Such a
/// subscription leaves the roll queue until a merchant's change clears it, so
/// one bad row never stops the others.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("subscriptions")
                    .add_column(text_null("billing_error"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("subscriptions")
                    .drop_column("billing_error")
                    .to_owned(),
            )
            .await
    }
}
