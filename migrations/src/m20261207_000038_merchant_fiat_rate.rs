use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The fiat value the merchant's signup pages show beside each sat price
/// (`catalog::fiat`): an ISO 4217 currency, its minor units per bitcoin as
/// an exact integer (9,750,000 cents for 97,500.00 USD), and when the
/// merchant set it. All three are null when the merchant shows sat alone.
/// One column per statement: SQLite alters one column at a time.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_len_null("fiat_currency", 3),
            big_integer_null("fiat_minor_per_btc"),
            ts_null("fiat_rate_set_at"),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table("merchants")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["fiat_currency", "fiat_minor_per_btc", "fiat_rate_set_at"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("merchants")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
