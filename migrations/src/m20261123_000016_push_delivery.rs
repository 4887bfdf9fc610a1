use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What the node role needs to deliver pushes: the 32-byte push id (hex)
/// sent on the wire and kept across re-sends, how many tries were made, when
/// the next is due, and a wall-clock lease on a push being sent (a node that
/// dies mid-send leaves a lease that runs out).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for column in [
            string_len_null("push_id", 64),
            integer("tries").default(0).take(),
            ts_null("next_attempt_at"),
            ts_null("locked_until"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("push_attempts")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        create_indexes(
            manager,
            vec![index(
                "push_attempts",
                "due",
                &["status", "next_attempt_at"],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_push_attempts_due")
                    .table("push_attempts")
                    .to_owned(),
            )
            .await?;
        for column in ["push_id", "tries", "next_attempt_at", "locked_until"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("push_attempts")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
