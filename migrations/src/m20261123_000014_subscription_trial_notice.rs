use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// When a trialing subscription's `subscription.trial_will_end` is due (three
/// days before the trial ends, or at once for a shorter trial); cleared once
/// recorded or when the trial ends another way. The scheduler's queue for it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("subscriptions")
                    .add_column(ts_null("trial_notice_at"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index(
                "subscriptions",
                "trial_notice",
                &["trial_notice_at", "id"],
            )],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_subscriptions_trial_notice")
                    .table("subscriptions")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("subscriptions")
                    .drop_column("trial_notice_at")
                    .to_owned(),
            )
            .await
    }
}
