use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Append-only: the audit trail and the source of webhooks and emails.
        manager
            .create_table(
                Table::create()
                    .table("events")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(string_len("type", 64))
                    .col(string_len("object_type", 32))
                    .col(id_ref("object_id"))
                    .col(json("data"))
                    .col(ts("created_at"))
                    // Set once the notifier has fanned the event out to webhooks/emails.
                    .col(ts_null("dispatched_at"))
                    .foreign_key(&mut fk("events", "merchant_id", "merchants"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                index("events", "merchant", &["merchant_id", "id"]),
                index("events", "object", &["object_id", "id"]),
                index("events", "dispatch", &["dispatched_at", "id"]),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["events"]).await
    }
}
