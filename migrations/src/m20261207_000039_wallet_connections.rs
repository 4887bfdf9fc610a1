use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Payment methods (issue 16).
/// - `subscriptions.payment_method`: `push` (the customer's node, the
///   default and what every subscription did before), `nwc` (the
///   subscription's wallet connection) or `manual` (email and the pay page).
/// - `wallet_connections`: a subscriber's Nostr Wallet Connect connection for
///   one subscription. `secret_sealed` is the `nostr+walletconnect://` URI
///   sealed with the deployment's key (`nwc::seal`); it is set to null when
///   the connection is removed. At most one `active` connection per
///   subscription. The budget columns hold what the wallet answered to
///   `get_budget` (NWC-13) when the connection was made, if it offers it.
/// - `push_attempts.method` (`push` or `nwc`) and `wallet_connection_id`: an
///   attempt to have a payment request paid, by the customer's node or by the
///   wallet. For `nwc`, `node_id` holds the wallet service's public key.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("wallet_connections")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(id_ref("customer_id"))
                    .col(id_ref("subscription_id"))
                    .col(string_len("status", 16))
                    .col(string_len("wallet_pubkey", 64))
                    .col(text("relays"))
                    .col(string_len("cipher", 16))
                    .col(text_null("secret_sealed"))
                    .col(string_len_null("wallet_alias", 200))
                    .col(text("wallet_methods"))
                    .col(big_integer_null("budget_total_msat"))
                    .col(big_integer_null("budget_used_msat"))
                    .col(string_len_null("budget_renewal", 16))
                    .col(ts("created_at"))
                    .col(ts_null("removed_at"))
                    .foreign_key(&mut fk(
                        "wallet_connections",
                        "subscription_id",
                        "subscriptions",
                    ))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![index(
                "wallet_connections",
                "merchant",
                &["merchant_id", "id"],
            )],
        )
        .await?;
        // At most one active connection per subscription (and the lookup of
        // it), on both backends.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_wallet_connections_active ON wallet_connections \
                 (subscription_id) WHERE status = 'active'",
            )
            .await?;
        for (table, column) in [
            (
                "subscriptions",
                string_len("payment_method", 16).default("push").take(),
            ),
            (
                "push_attempts",
                string_len("method", 16).default("push").take(),
            ),
            ("push_attempts", id_ref_null("wallet_connection_id")),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            ("push_attempts", "wallet_connection_id"),
            ("push_attempts", "method"),
            ("subscriptions", "payment_method"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        drop_tables(manager, &["wallet_connections"]).await
    }
}
