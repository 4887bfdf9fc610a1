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
                        .table("payment_requests")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(id_ref("invoice_id"))
                        .col(msat("amount_msat"))
                        // pending (queued for the node) | issued | paid | expired | canceled
                        .col(string_len("status", 16))
                        // Push the BOLT11 to the customer's node once issued.
                        .col(boolean("push").default(false))
                        .col(text_null("bolt11"))
                        .col(string_len_null("payment_hash", 64))
                        .col(ts_null("expires_at"))
                        .col(ts_null("issued_at"))
                        .col(ts_null("paid_at"))
                        .col(big_integer_null("amount_received_msat"))
                        .col(string_null("failure_reason"))
                        .foreign_key(&mut fk("payment_requests", "merchant_id", "merchants"))
                        .foreign_key(&mut fk("payment_requests", "invoice_id", "invoices")),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_table(
                with_timestamps(
                    Table::create()
                        .table("push_attempts")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(id_ref("payment_request_id"))
                        .col(string_len("node_id", 66))
                        // queued | sent | accepted | pending_approval | paid | rejected | failed
                        .col(string_len("status", 24))
                        .col(string_null("reason"))
                        .col(ts_null("attempted_at"))
                        .col(ts_null("replied_at"))
                        .foreign_key(&mut fk("push_attempts", "merchant_id", "merchants"))
                        .foreign_key(&mut fk(
                            "push_attempts",
                            "payment_request_id",
                            "payment_requests",
                        )),
                )
                .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                // Money guard: a payment hash belongs to exactly one payment request.
                unique_index("payment_requests", "payment_hash", &["payment_hash"]),
                index("payment_requests", "queue", &["status", "created_at"]),
                index("payment_requests", "invoice", &["invoice_id"]),
                index("push_attempts", "queue", &["status", "created_at"]),
                index("push_attempts", "payment_request", &["payment_request_id"]),
            ],
        )
        .await?;
        // Money guard: at most one live (pending or issued) payment request per invoice.
        // Partial indexes are spelled the same on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_payment_requests_live ON payment_requests (invoice_id) \
                 WHERE status IN ('pending', 'issued')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["push_attempts", "payment_requests"]).await
    }
}
