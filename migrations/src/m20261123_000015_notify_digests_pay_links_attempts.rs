use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The merchant's daily summary of unpaid invoices and the hosted pay page's
/// links:
/// - `unpaid_digest_items`: one row per `invoice.unpaid` event held for a
///   summary (written by the fan-out, at most once per event); `digest_id`
///   is set when a summary takes it.
/// - `email_digests`: one row per merchant and UTC day a summary was made
///   (unique), so two workers or a restart never make a second one.
/// - `pay_links`: the unguessable token of each invoice's pay page.
/// - `webhook_delivery_attempts`: every attempt of a webhook delivery (the
///   delivery row keeps only the last one).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                with_timestamps(
                    Table::create()
                        .table("email_digests")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        // YYYY-MM-DD (UTC) of the summary's slot.
                        .col(string_len("digest_date", 10))
                        .col(integer("invoice_count"))
                        .col(id_ref_null("email_id"))
                        .foreign_key(&mut fk("email_digests", "merchant_id", "merchants")),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("unpaid_digest_items")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(id_ref("invoice_id"))
                    .col(id_ref("event_id"))
                    .col(ts("went_unpaid_at"))
                    .col(id_ref_null("digest_id"))
                    .col(ts("created_at"))
                    .foreign_key(&mut fk("unpaid_digest_items", "merchant_id", "merchants"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("pay_links")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(id_ref("invoice_id"))
                    .col(string_len("token", 64))
                    .col(ts("created_at"))
                    .foreign_key(&mut fk("pay_links", "merchant_id", "merchants"))
                    .foreign_key(&mut fk("pay_links", "invoice_id", "invoices"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_delivery_attempts")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(id_ref("delivery_id"))
                    .col(id_ref("endpoint_id"))
                    // 1, 2, ... within the delivery.
                    .col(integer("attempt_number"))
                    .col(ts("attempted_at"))
                    .col(integer_null("status_code"))
                    .col(big_integer("latency_ms"))
                    .col(text_null("response_excerpt"))
                    .col(text_null("error"))
                    // pending (to be retried), succeeded or failed: the
                    // delivery's status after this attempt.
                    .col(string_len("outcome", 16))
                    .col(ts("created_at"))
                    .foreign_key(&mut fk(
                        "webhook_delivery_attempts",
                        "merchant_id",
                        "merchants",
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index(
                    "webhook_delivery_attempts",
                    "delivery",
                    &["delivery_id", "id"],
                ),
                unique_index("email_digests", "day", &["merchant_id", "digest_date"]),
                unique_index("unpaid_digest_items", "event", &["event_id"]),
                index(
                    "unpaid_digest_items",
                    "waiting",
                    &["digest_id", "merchant_id"],
                ),
                unique_index("pay_links", "invoice", &["invoice_id"]),
                unique_index("pay_links", "token", &["token"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(
            manager,
            &[
                "webhook_delivery_attempts",
                "pay_links",
                "unpaid_digest_items",
                "email_digests",
            ],
        )
        .await
    }
}
