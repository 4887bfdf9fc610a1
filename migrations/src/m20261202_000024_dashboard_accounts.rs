use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The merchant dashboard's accounts (`merchant_users` exists since the
/// first migration):
/// - `dashboard_sessions`: one row per signed-in browser; only the SHA-256
///   of the cookie's token is stored, with the session's expiry.
/// - `dashboard_invites`: a single-use invitation of a teammate to a
///   merchant (the token's hash, its expiry, when it was taken).
/// - `login_throttle`: failed sign-ins counted per account and per client
///   address in a fixed window, so guessing passwords is slowed down.
/// - `subscriptions (merchant_id, status, plan_id)`: the overview's counts
///   and MRR read this index alone.
/// - `invoices (merchant_id, status, paid_at, amount_msat)`: the revenue
///   per month, summed from the index alone.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("dashboard_sessions")
                    .col(id_pk())
                    .col(string_len("token_hash", 64))
                    .col(id_ref("user_id"))
                    .col(id_ref("merchant_id"))
                    .col(ts("created_at"))
                    .col(ts("expires_at"))
                    .foreign_key(&mut fk("dashboard_sessions", "user_id", "merchant_users"))
                    .foreign_key(&mut fk("dashboard_sessions", "merchant_id", "merchants"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("dashboard_invites")
                    .col(id_pk())
                    .col(id_ref("merchant_id"))
                    .col(string("email"))
                    .col(string_len("token_hash", 64))
                    .col(id_ref("invited_by"))
                    .col(ts("created_at"))
                    .col(ts("expires_at"))
                    .col(ts_null("accepted_at"))
                    .foreign_key(&mut fk("dashboard_invites", "merchant_id", "merchants"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("login_throttle")
                    // `account:<email>` or `address:<ip>`.
                    .col(string_len("key", 320).primary_key())
                    .col(integer("failures"))
                    .col(ts("window_start"))
                    .to_owned(),
            )
            .await?;
        create_indexes(
            manager,
            vec![
                unique_index("dashboard_sessions", "token", &["token_hash"]),
                index("dashboard_sessions", "user", &["user_id"]),
                unique_index("dashboard_invites", "token", &["token_hash"]),
                index("dashboard_invites", "merchant", &["merchant_id", "id"]),
                index(
                    "subscriptions",
                    "merchant_status",
                    &["merchant_id", "status", "plan_id"],
                ),
                index(
                    "invoices",
                    "merchant_paid",
                    &["merchant_id", "status", "paid_at", "amount_msat"],
                ),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, name) in [
            ("subscriptions", "ix_subscriptions_merchant_status"),
            ("invoices", "ix_invoices_merchant_paid"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        drop_tables(
            manager,
            &["login_throttle", "dashboard_invites", "dashboard_sessions"],
        )
        .await
    }
}
