use sea_orm_migration::prelude::*;

use crate::columns::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What the dashboard's lists read, in the order they page (`pushbill bench
/// pages` found each of these walking a merchant's 100,000 rows):
/// - a status filter of invoices or subscriptions pages by id within the
///   status: `(merchant_id, status, id)`;
/// - the sandbox page's subscribers whose node a handshake proved:
///   `customers (merchant_id, node_id_verified, id)`;
/// - the customer search's candidates (a prefix of the email or the name,
///   compared byte by byte: `COLLATE "C"` on PostgreSQL, SQLite's default):
///   `customers (merchant_id, lower(email))` and `(merchant_id, lower(name))`.
///
/// The overview's indexes of migration 24 (`subscriptions (merchant_id,
/// status, plan_id)`, `invoices (merchant_id, status, paid_at,
/// amount_msat)`) go: the overview reads counters now (migration 36), and
/// every billing write paid for them.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes(
            manager,
            vec![
                index(
                    "invoices",
                    "merchant_status",
                    &["merchant_id", "status", "id"],
                ),
                index(
                    "subscriptions",
                    "merchant_status_id",
                    &["merchant_id", "status", "id"],
                ),
                index(
                    "customers",
                    "merchant_verified",
                    &["merchant_id", "node_id_verified", "id"],
                ),
            ],
        )
        .await?;
        let db = manager.get_connection();
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "CREATE INDEX ix_customers_merchant_email_prefix \
                 ON customers (merchant_id, (lower(email) COLLATE \"C\"))",
            )
            .await?;
            db.execute_unprepared(
                "CREATE INDEX ix_customers_merchant_name_prefix \
                 ON customers (merchant_id, (lower(name) COLLATE \"C\"))",
            )
            .await?;
        } else {
            // SQLite compares text byte by byte: migration 33's
            // `(merchant_id, lower(email))` serves the email prefix.
            db.execute_unprepared(
                "CREATE INDEX ix_customers_merchant_name_prefix \
                 ON customers (merchant_id, lower(name))",
            )
            .await?;
        }
        drop(
            manager,
            &[
                ("subscriptions", "ix_subscriptions_merchant_status"),
                ("invoices", "ix_invoices_merchant_paid"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_indexes(
            manager,
            vec![
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
        .await?;
        drop(
            manager,
            &[
                ("invoices", "ix_invoices_merchant_status"),
                ("subscriptions", "ix_subscriptions_merchant_status_id"),
                ("customers", "ix_customers_merchant_verified"),
                ("customers", "ix_customers_merchant_name_prefix"),
            ],
        )
        .await?;
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DbBackend::Postgres {
            drop(
                manager,
                &[("customers", "ix_customers_merchant_email_prefix")],
            )
            .await?;
        }
        Ok(())
    }
}

async fn drop(
    manager: &SchemaManager<'_>,
    indexes: &[(&'static str, &'static str)],
) -> Result<(), DbErr> {
    for (table, name) in indexes {
        manager
            .drop_index(Index::drop().name(*name).table(*table).to_owned())
            .await?;
    }
    Ok(())
}
