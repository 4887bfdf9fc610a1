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
                        .table("webhook_endpoints")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(text("url"))
                        .col(text_null("description"))
                        // ["*"] or a list of event types.
                        .col(json("event_types"))
                        .col(string("secret"))
                        // Secret rotation: the old secret keeps signing until it expires.
                        .col(string_null("previous_secret"))
                        .col(ts_null("previous_secret_expires_at"))
                        // enabled | disabled
                        .col(string_len("status", 16))
                        .col(string_null("disabled_reason"))
                        .col(ts_null("failing_since"))
                        .foreign_key(&mut fk("webhook_endpoints", "merchant_id", "merchants")),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                with_timestamps(
                    Table::create()
                        .table("webhook_deliveries")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(id_ref("endpoint_id"))
                        .col(id_ref("event_id"))
                        // pending | succeeded | failed
                        .col(string_len("status", 16))
                        .col(integer("attempt_count").default(0))
                        .col(ts_null("next_attempt_at"))
                        .col(ts_null("last_attempt_at"))
                        .col(integer_null("last_status_code"))
                        .col(big_integer_null("last_latency_ms"))
                        .col(text_null("last_response_excerpt"))
                        .col(text_null("last_error"))
                        .foreign_key(&mut fk("webhook_deliveries", "merchant_id", "merchants"))
                        .foreign_key(&mut fk(
                            "webhook_deliveries",
                            "endpoint_id",
                            "webhook_endpoints",
                        ))
                        .foreign_key(&mut fk("webhook_deliveries", "event_id", "events")),
                )
                .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("webhook_endpoints", "merchant", &["merchant_id", "id"]),
                unique_index("webhook_deliveries", "event", &["endpoint_id", "event_id"]),
                index(
                    "webhook_deliveries",
                    "queue",
                    &["status", "next_attempt_at"],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["webhook_deliveries", "webhook_endpoints"]).await
    }
}
