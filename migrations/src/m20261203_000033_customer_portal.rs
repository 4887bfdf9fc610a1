use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The customer portal (`/portal`, docs/portal.md):
/// - `portal_links`: a single-use sign-in link for one customer of one
///   merchant (asked for by email or made through the API). Only the
///   SHA-256 of the link's token is stored, with its expiry (on the
///   merchant's clock) and when it was used.
/// - `portal_sessions`: a customer's signed-in browser; only the SHA-256 of
///   the cookie's token is stored, with the session's expiry.
/// - `customers (merchant_id, lower(email))`: finding a merchant's customer
///   by email, whatever the case, without scanning the merchant's customers.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("portal_links")
                    .col(id_pk())
                    .col(string_len("token_hash", 64))
                    .col(id_ref("merchant_id"))
                    .col(id_ref("customer_id"))
                    // `email` (asked for on the portal) or `api`.
                    .col(string_len("source", 16))
                    .col(ts("created_at"))
                    .col(ts("expires_at"))
                    .col(ts_null("used_at"))
                    .foreign_key(&mut fk("portal_links", "merchant_id", "merchants"))
                    .foreign_key(&mut fk("portal_links", "customer_id", "customers"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("portal_sessions")
                    .col(id_pk())
                    .col(string_len("token_hash", 64))
                    .col(id_ref("merchant_id"))
                    .col(id_ref("customer_id"))
                    .col(ts("created_at"))
                    .col(ts("expires_at"))
                    .foreign_key(&mut fk("portal_sessions", "merchant_id", "merchants"))
                    .foreign_key(&mut fk("portal_sessions", "customer_id", "customers"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                unique_index("portal_links", "token", &["token_hash"]),
                index("portal_links", "customer", &["customer_id"]),
                unique_index("portal_sessions", "token", &["token_hash"]),
                index("portal_sessions", "customer", &["customer_id"]),
            ],
        )
        .await?;
        // An expression index: the same statement on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_customers_merchant_email_lower \
                 ON customers (merchant_id, lower(email))",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_customers_merchant_email_lower")
                    .table("customers")
                    .to_owned(),
            )
            .await?;
        drop_tables(manager, &["portal_sessions", "portal_links"]).await
    }
}
