use sea_orm_migration::prelude::*;

use crate::columns::{create_indexes, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Open subscribe offers are bounded per peer and per merchant, and stale
/// ones are pruned per merchant: both read by `created_at`.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes(
            manager,
            vec![
                index("subscribe_offers", "peer", &["node_id", "created_at"]),
                index(
                    "subscribe_offers",
                    "merchant",
                    &["merchant_id", "created_at"],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_subscribe_offers_peer", "ix_subscribe_offers_merchant"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table("subscribe_offers")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
