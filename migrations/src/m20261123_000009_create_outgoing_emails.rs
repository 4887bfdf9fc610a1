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
                        .table("outgoing_emails")
                        .col(id_pk())
                        .col(id_ref("merchant_id"))
                        .col(id_ref_null("event_id"))
                        .col(string_len("kind", 48))
                        .col(string("to_address"))
                        .col(string("subject"))
                        .col(text("body_text"))
                        .col(text("body_html"))
                        // pending | sent | failed
                        .col(string_len("status", 16))
                        .col(integer("attempt_count").default(0))
                        .col(ts_null("next_attempt_at"))
                        .col(text_null("last_error"))
                        .col(ts_null("sent_at"))
                        .foreign_key(&mut fk("outgoing_emails", "merchant_id", "merchants")),
                )
                .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                // One message of a kind per event and recipient, however often fan-out runs.
                unique_index(
                    "outgoing_emails",
                    "event",
                    &["event_id", "kind", "to_address"],
                ),
                index("outgoing_emails", "queue", &["status", "next_attempt_at"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["outgoing_emails"]).await
    }
}
