use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The dashboard overview's numbers without reading the merchant's
/// subscriptions or invoices on each request: two tables of signed deltas
/// the database writes itself, by triggers, in the transaction of every
/// change (so no write path can miss one, and a crash loses none):
///
/// - `subscription_status_counts`: +1 for a subscription's (merchant, plan,
///   status) when it is inserted or moves there, -1 for the one it leaves
///   (or when deleted);
/// - `paid_revenue_months`: +amount for the merchant's calendar month (UTC,
///   `YYYY-MM`) of `paid_at` when an invoice becomes paid, -amount if it
///   stops being paid (or its amount or `paid_at` change).
///
/// Rows are only ever inserted, so concurrent billing workers never wait
/// on one another's counter rows; the scheduler folds them into one row per
/// group now and then (`catalog::metrics::compact`). The tables start with
/// the sums of the rows already there.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, POSTGRES_UP, SQLITE_UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, POSTGRES_DOWN, SQLITE_DOWN).await
    }
}

/// Runs the backend's statements in order.
async fn run(manager: &SchemaManager<'_>, postgres: &[&str], sqlite: &[&str]) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        DbBackend::Postgres => postgres,
        _ => sqlite,
    };
    for sql in statements {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}

const SQLITE_UP: &[&str] = &[
    "CREATE TABLE subscription_status_counts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        merchant_id VARCHAR(64) NOT NULL,
        plan_id VARCHAR(64) NOT NULL,
        status VARCHAR(32) NOT NULL,
        n BIGINT NOT NULL)",
    "CREATE INDEX ix_subscription_status_counts_merchant
        ON subscription_status_counts (merchant_id, status, plan_id)",
    "CREATE TABLE paid_revenue_months (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        merchant_id VARCHAR(64) NOT NULL,
        month CHAR(7) NOT NULL,
        paid_msat BIGINT NOT NULL)",
    "CREATE INDEX ix_paid_revenue_months_merchant
        ON paid_revenue_months (merchant_id, month)",
    "CREATE TRIGGER subscription_status_counts_insert AFTER INSERT ON subscriptions
     BEGIN
        INSERT INTO subscription_status_counts (merchant_id, plan_id, status, n)
        VALUES (NEW.merchant_id, NEW.plan_id, NEW.status, 1);
     END",
    "CREATE TRIGGER subscription_status_counts_update AFTER UPDATE ON subscriptions
     WHEN OLD.status IS NOT NEW.status OR OLD.plan_id IS NOT NEW.plan_id
        OR OLD.merchant_id IS NOT NEW.merchant_id
     BEGIN
        INSERT INTO subscription_status_counts (merchant_id, plan_id, status, n)
        VALUES (OLD.merchant_id, OLD.plan_id, OLD.status, -1),
               (NEW.merchant_id, NEW.plan_id, NEW.status, 1);
     END",
    "CREATE TRIGGER subscription_status_counts_delete AFTER DELETE ON subscriptions
     BEGIN
        INSERT INTO subscription_status_counts (merchant_id, plan_id, status, n)
        VALUES (OLD.merchant_id, OLD.plan_id, OLD.status, -1);
     END",
    // Timestamps are stored as ISO 8601 text: the month is its first 7 characters.
    "CREATE TRIGGER paid_revenue_months_insert AFTER INSERT ON invoices
     WHEN NEW.status = 'paid' AND NEW.paid_at IS NOT NULL
     BEGIN
        INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
        VALUES (NEW.merchant_id, substr(NEW.paid_at, 1, 7), NEW.amount_msat);
     END",
    "CREATE TRIGGER paid_revenue_months_update AFTER UPDATE ON invoices
     WHEN OLD.status IS NOT NEW.status OR OLD.paid_at IS NOT NEW.paid_at
        OR OLD.amount_msat IS NOT NEW.amount_msat OR OLD.merchant_id IS NOT NEW.merchant_id
     BEGIN
        INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
        SELECT OLD.merchant_id, substr(OLD.paid_at, 1, 7), -OLD.amount_msat
        WHERE OLD.status = 'paid' AND OLD.paid_at IS NOT NULL;
        INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
        SELECT NEW.merchant_id, substr(NEW.paid_at, 1, 7), NEW.amount_msat
        WHERE NEW.status = 'paid' AND NEW.paid_at IS NOT NULL;
     END",
    "CREATE TRIGGER paid_revenue_months_delete AFTER DELETE ON invoices
     WHEN OLD.status = 'paid' AND OLD.paid_at IS NOT NULL
     BEGIN
        INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
        VALUES (OLD.merchant_id, substr(OLD.paid_at, 1, 7), -OLD.amount_msat);
     END",
    "INSERT INTO subscription_status_counts (merchant_id, plan_id, status, n)
     SELECT merchant_id, plan_id, status, COUNT(*) FROM subscriptions
     GROUP BY merchant_id, plan_id, status",
    "INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
     SELECT merchant_id, substr(paid_at, 1, 7), SUM(amount_msat) FROM invoices
     WHERE status = 'paid' AND paid_at IS NOT NULL
     GROUP BY merchant_id, substr(paid_at, 1, 7)",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS subscription_status_counts_insert",
    "DROP TRIGGER IF EXISTS subscription_status_counts_update",
    "DROP TRIGGER IF EXISTS subscription_status_counts_delete",
    "DROP TRIGGER IF EXISTS paid_revenue_months_insert",
    "DROP TRIGGER IF EXISTS paid_revenue_months_update",
    "DROP TRIGGER IF EXISTS paid_revenue_months_delete",
    "DROP TABLE IF EXISTS subscription_status_counts",
    "DROP TABLE IF EXISTS paid_revenue_months",
];

const POSTGRES_UP: &[&str] = &[
    "CREATE TABLE subscription_status_counts (
        id BIGSERIAL PRIMARY KEY,
        merchant_id VARCHAR(64) NOT NULL,
        plan_id VARCHAR(64) NOT NULL,
        status VARCHAR(32) NOT NULL,
        n BIGINT NOT NULL)",
    "CREATE INDEX ix_subscription_status_counts_merchant
        ON subscription_status_counts (merchant_id, status, plan_id)",
    "CREATE TABLE paid_revenue_months (
        id BIGSERIAL PRIMARY KEY,
        merchant_id VARCHAR(64) NOT NULL,
        month CHAR(7) NOT NULL,
        paid_msat BIGINT NOT NULL)",
    "CREATE INDEX ix_paid_revenue_months_merchant
        ON paid_revenue_months (merchant_id, month)",
    "CREATE FUNCTION subscription_status_count() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO subscription_status_counts (merchant_id, plan_id, status, n)
            VALUES (OLD.merchant_id, OLD.plan_id, OLD.status, -1);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO subscription_status_counts (merchant_id, plan_id, status, n)
            VALUES (NEW.merchant_id, NEW.plan_id, NEW.status, 1);
        END IF;
        RETURN NULL;
     END $$",
    "CREATE TRIGGER subscription_status_counts_insert_delete
        AFTER INSERT OR DELETE ON subscriptions
        FOR EACH ROW EXECUTE FUNCTION subscription_status_count()",
    "CREATE TRIGGER subscription_status_counts_update AFTER UPDATE ON subscriptions
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
            OR OLD.plan_id IS DISTINCT FROM NEW.plan_id
            OR OLD.merchant_id IS DISTINCT FROM NEW.merchant_id)
        EXECUTE FUNCTION subscription_status_count()",
    "CREATE FUNCTION paid_revenue_month() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'paid' AND OLD.paid_at IS NOT NULL THEN
            INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
            VALUES (OLD.merchant_id, to_char(OLD.paid_at AT TIME ZONE 'UTC', 'YYYY-MM'), -OLD.amount_msat);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'paid' AND NEW.paid_at IS NOT NULL THEN
            INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
            VALUES (NEW.merchant_id, to_char(NEW.paid_at AT TIME ZONE 'UTC', 'YYYY-MM'), NEW.amount_msat);
        END IF;
        RETURN NULL;
     END $$",
    "CREATE TRIGGER paid_revenue_months_insert AFTER INSERT ON invoices
        FOR EACH ROW WHEN (NEW.status = 'paid') EXECUTE FUNCTION paid_revenue_month()",
    "CREATE TRIGGER paid_revenue_months_update AFTER UPDATE ON invoices
        FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
            OR OLD.paid_at IS DISTINCT FROM NEW.paid_at
            OR OLD.amount_msat IS DISTINCT FROM NEW.amount_msat
            OR OLD.merchant_id IS DISTINCT FROM NEW.merchant_id)
        EXECUTE FUNCTION paid_revenue_month()",
    "CREATE TRIGGER paid_revenue_months_delete AFTER DELETE ON invoices
        FOR EACH ROW WHEN (OLD.status = 'paid') EXECUTE FUNCTION paid_revenue_month()",
    "INSERT INTO subscription_status_counts (merchant_id, plan_id, status, n)
     SELECT merchant_id, plan_id, status, COUNT(*) FROM subscriptions
     GROUP BY merchant_id, plan_id, status",
    "INSERT INTO paid_revenue_months (merchant_id, month, paid_msat)
     SELECT merchant_id, to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM'), SUM(amount_msat)::BIGINT
     FROM invoices WHERE status = 'paid' AND paid_at IS NOT NULL
     GROUP BY merchant_id, to_char(paid_at AT TIME ZONE 'UTC', 'YYYY-MM')",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS subscription_status_counts_insert_delete ON subscriptions",
    "DROP TRIGGER IF EXISTS subscription_status_counts_update ON subscriptions",
    "DROP TRIGGER IF EXISTS paid_revenue_months_insert ON invoices",
    "DROP TRIGGER IF EXISTS paid_revenue_months_update ON invoices",
    "DROP TRIGGER IF EXISTS paid_revenue_months_delete ON invoices",
    "DROP FUNCTION IF EXISTS subscription_status_count()",
    "DROP FUNCTION IF EXISTS paid_revenue_month()",
    "DROP TABLE IF EXISTS subscription_status_counts",
    "DROP TABLE IF EXISTS paid_revenue_months",
];
