use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                with_timestamps(
                    Table::create()
                        .table("plans")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(string("name"))
                        .col(text_null("description"))
                        .col(msat("amount_msat"))
                        // day | week | month | year | cron
                        .col(string_len("interval_unit", 8))
                        .col(integer("interval_count"))
                        .col(string_null("cron_expression"))
                        .col(big_integer("trial_period_secs"))
                        // An invoice is due this long after its period starts.
                        .col(big_integer("payment_due_secs"))
                        // Dunning re-pushes at these offsets after the due time.
                        .col(json("retry_schedule_secs"))
                        // After the grace period the subscription becomes `unpaid` or is canceled.
                        .col(big_integer("grace_period_secs"))
                        .col(string_len("grace_action", 8))
                        .col(string_len("status", 16))
                        .col(json("metadata"))
                        .foreign_key(&mut fk("plans", "merchant_id", "merchants")),
                )
                .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index("plans", "merchant", &["merchant_id", "id"])],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["plans"]).await
    }
}
