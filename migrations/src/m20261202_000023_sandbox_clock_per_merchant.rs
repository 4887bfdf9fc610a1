use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Each merchant has its own test clock in the sandbox: a row whose id
        // is the merchant's id (next to the deployment's `default` row), so
        // the id takes a prefixed id's length. SQLite does not enforce a
        // text column's length (and cannot alter a column): nothing to do.
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table("sandbox_clock")
                    .modify_column(string_len("id", 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The merchants' clocks do not fit the old width.
        let db = manager.get_connection();
        db.execute_unprepared("DELETE FROM sandbox_clock WHERE id <> 'default'")
            .await?;
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .alter_table(
                Table::alter()
                    .table("sandbox_clock")
                    .modify_column(string_len("id", 16))
                    .to_owned(),
            )
            .await
    }
}
