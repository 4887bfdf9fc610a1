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
                        .table("invoices")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(id_ref("customer_id"))
                        // NULL for one-off invoices.
                        .col(id_ref_null("subscription_id"))
                        .col(id_ref_null("plan_id"))
                        // Merchant-facing, sequential per merchant: ACME-000042.
                        .col(string_len("number", 32))
                        .col(text_null("description"))
                        .col(ts_null("period_start"))
                        .col(ts_null("period_end"))
                        .col(msat("amount_msat"))
                        // draft | open | paid | void | uncollectible
                        .col(string_len("status", 16))
                        .col(ts("due_at"))
                        .col(ts_null("paid_at"))
                        .col(ts_null("voided_at"))
                        .col(ts_null("marked_uncollectible_at"))
                        // Payment attempts made (pushes), and where dunning stands.
                        .col(integer("attempt_count").default(0))
                        .col(integer("dunning_step").default(0))
                        .col(ts_null("next_dunning_at"))
                        .foreign_key(&mut fk("invoices", "merchant_id", "merchants"))
                        .foreign_key(&mut fk("invoices", "customer_id", "customers"))
                        .foreign_key(&mut fk("invoices", "subscription_id", "subscriptions"))
                        .foreign_key(&mut fk("invoices", "plan_id", "plans")),
                )
                .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                // Money guard: one invoice per subscription period, whatever the code does.
                unique_index("invoices", "period", &["subscription_id", "period_start"]),
                unique_index("invoices", "number", &["merchant_id", "number"]),
                // Dunning's work queue: next_dunning_at is NULL once an invoice is settled.
                index("invoices", "dunning", &["next_dunning_at", "id"]),
                index("invoices", "merchant", &["merchant_id", "id"]),
                index("invoices", "customer", &["customer_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["invoices"]).await
    }
}
