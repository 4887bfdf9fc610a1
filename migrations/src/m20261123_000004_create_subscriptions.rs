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
                        .table("subscriptions")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(id_ref("customer_id"))
                        .col(id_ref("plan_id"))
                        // A plan change waiting for the next period to start.
                        .col(id_ref_null("next_plan_id"))
                        // trialing | active | past_due | unpaid | paused | canceled
                        .col(string_len("status", 16))
                        .col(ts("billing_anchor"))
                        .col(ts("current_period_start"))
                        .col(ts("current_period_end"))
                        // The scheduler's queue: current_period_end while the
                        // subscription bills (trialing, active, past_due), else NULL.
                        .col(ts_null("next_roll_at"))
                        .col(ts_null("trial_start"))
                        .col(ts_null("trial_end"))
                        .col(boolean("cancel_at_period_end").default(false))
                        .col(ts_null("canceled_at"))
                        .col(ts_null("ended_at"))
                        .col(ts_null("paused_at"))
                        .col(string_null("cancellation_reason"))
                        .col(json("metadata"))
                        .foreign_key(&mut fk("subscriptions", "merchant_id", "merchants"))
                        .foreign_key(&mut fk("subscriptions", "customer_id", "customers"))
                        .foreign_key(&mut fk("subscriptions", "plan_id", "plans"))
                        .foreign_key(&mut fk("subscriptions", "next_plan_id", "plans")),
                )
                .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                // The scheduler's work queue, scanned in time order.
                index("subscriptions", "next_roll", &["next_roll_at", "id"]),
                index("subscriptions", "merchant", &["merchant_id", "id"]),
                index("subscriptions", "customer", &["customer_id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["subscriptions"]).await
    }
}
