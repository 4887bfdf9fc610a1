//! The billing run's same-run ceiling (issue 15): the rows one billing run
//! writes for the due subscriptions (each one's next invoice, its pending
//! payment request, the `subscription.updated` and `invoice.created`
//! events, the subscription moved into its next period, the merchants'
//! invoice counters), written by a few set-based statements (`INSERT ...
//! SELECT`, `UPDATE ... FROM`) on pushbill's schema, in one transaction, on
//! the same seeded state. No checks, no batches, no rows read into the
//! process: what the database alone needs to write the same rows.
//!
//! It knows only the seeded case (active monthly subscriptions, no credit
//! balance, no grant, no dunning due): [`tally`] counts what each wrote, and
//! tests/slow/cli/bench.rs checks that it writes what the billing engine
//! writes, table by table. Periods are moved by a calendar month in SQL
//! (SQLite's `+1 month` and PostgreSQL's `interval '1 month'`, which differ
//! from the engine's at the end of long months; the seed's are not there).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait};

use crate::error::Result;

/// Writes the billing rows of every subscription due at `now`; returns how
/// many invoices it wrote.
pub async fn bill(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    let sql = Sql { postgres };
    // Time-ordered ids, as the engine's ULIDs are: the id's time part, then
    // the row's number.
    let time = ulid::Ulid::from_datetime(now.into())
        .to_string()
        .to_lowercase();
    let time = &time[..10];
    let txn = db.begin().await?;
    txn.execute_unprepared("DROP TABLE IF EXISTS bench_due")
        .await?;
    // The due subscriptions with their next period, plan and push flag,
    // numbered per merchant (invoice numbers) and overall (ids).
    txn.execute_raw(sql.statement(
        &format!(
            "CREATE TEMP TABLE bench_due AS
             SELECT s.id, s.merchant_id, s.customer_id, s.plan_id, s.billing_anchor,
                    s.created_at, s.current_period_end AS period_start,
                    {end} AS period_end,
                    p.name AS description, p.amount_msat, p.payment_due_secs,
                    c.node_id IS NOT NULL AS push,
                    row_number() OVER (PARTITION BY s.merchant_id ORDER BY s.id) AS rn,
                    row_number() OVER (ORDER BY s.id) AS n
             FROM subscriptions s
             JOIN plans p ON p.id = s.plan_id
             JOIN customers c ON c.id = s.customer_id
             WHERE s.next_roll_at <= {now}",
            end = sql.plus_month("s.current_period_end"),
            now = sql.param(1),
        ),
        vec![now.into()],
    ))
    .await?;
    let count: i64 = txn
        .query_one_raw(sql.statement("SELECT count(*) AS n FROM bench_due", vec![]))
        .await?
        .map(|row| row.try_get("", "n"))
        .transpose()?
        .unwrap_or(0);
    let id = |prefix: &str, offset: &str| {
        format!(
            "'{prefix}_' || '{time}' || {}",
            sql.pad(&format!("d.n{offset}"), 16)
        )
    };
    let due_at = sql.plus_seconds(
        &sql.greatest("d.period_start", &sql.param(1)),
        "d.payment_due_secs",
    );
    let now_p = sql.param(1);
    let invoice_id = id("inv", "");
    txn.execute_raw(sql.statement(
        &format!(
            "INSERT INTO invoices (id, merchant_id, customer_id, subscription_id, plan_id, number,
                 description, period_start, period_end, amount_msat, credit_applied_msat, status,
                 due_at, paid_at, voided_at, marked_uncollectible_at, attempt_count, dunning_step,
                 next_dunning_at, created_at, updated_at)
             SELECT {invoice_id}, d.merchant_id, d.customer_id, d.id, d.plan_id,
                 m.invoice_prefix || '-' || {number}, d.description, d.period_start, d.period_end,
                 d.amount_msat, 0, 'open', {due_at}, NULL, NULL, NULL, 1, 0, {due_at},
                 {now_p}, {now_p}
             FROM bench_due d JOIN merchants m ON m.id = d.merchant_id",
            number = sql.pad("m.next_invoice_number + d.rn - 1", 6),
        ),
        vec![now.into()],
    ))
    .await?;
    txn.execute_raw(sql.statement(
        &format!(
            "INSERT INTO payment_requests (id, merchant_id, invoice_id, amount_msat, status, push,
                 bolt11, payment_hash, expires_at, issued_at, paid_at, amount_received_msat,
                 failure_reason, created_at, updated_at)
             SELECT {pr}, d.merchant_id, {invoice_id}, d.amount_msat, 'pending', d.push,
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, {now_p}, {now_p}
             FROM bench_due d",
            pr = id("pr", ""),
        ),
        vec![now.into()],
    ))
    .await?;
    let subscription = sql.json(&[
        ("id", "d.id"),
        ("object", "'subscription'"),
        ("customer", "d.customer_id"),
        ("plan", "d.plan_id"),
        ("pending_plan", "NULL"),
        ("status", "'active'"),
        ("billing_anchor", "d.billing_anchor"),
        ("current_period_start", "d.period_start"),
        ("current_period_end", "d.period_end"),
        ("trial_start", "NULL"),
        ("trial_end", "NULL"),
        ("cancel_at_period_end", "false"),
        ("canceled_at", "NULL"),
        ("ended_at", "NULL"),
        ("paused_at", "NULL"),
        ("cancellation_reason", "NULL"),
        ("billing_error", "NULL"),
        ("created_at", "d.created_at"),
        ("updated_at", &now_p),
    ]);
    let invoice = sql.json(&[
        ("id", &invoice_id),
        ("object", "'invoice'"),
        (
            "number",
            &format!(
                "m.invoice_prefix || '-' || {}",
                sql.pad("m.next_invoice_number + d.rn - 1", 6)
            ),
        ),
        ("customer", "d.customer_id"),
        ("subscription", "d.id"),
        ("plan", "d.plan_id"),
        ("description", "d.description"),
        ("period_start", "d.period_start"),
        ("period_end", "d.period_end"),
        ("amount_msat", "d.amount_msat"),
        ("credit_applied_msat", "0"),
        ("amount_due_msat", "d.amount_msat"),
        ("currency", "'msat'"),
        ("status", "'open'"),
        ("due_at", &due_at),
        ("paid_at", "NULL"),
        ("voided_at", "NULL"),
        ("marked_uncollectible_at", "NULL"),
        ("attempt_count", "1"),
        ("next_payment_attempt", &due_at),
        ("created_at", &now_p),
        ("updated_at", &now_p),
    ]);
    // The engine writes each batch's subscription events, then its invoice
    // events: ids in that order.
    for (offset, event, object, object_id, data) in [
        (
            "",
            "subscription.updated",
            "subscription",
            "d.id".to_owned(),
            subscription,
        ),
        (
            &*format!(" + {count}"),
            "invoice.created",
            "invoice",
            invoice_id.clone(),
            invoice,
        ),
    ] {
        txn.execute_raw(sql.statement(
            &format!(
                "INSERT INTO events (id, merchant_id, type, object_type, object_id, data,
                     created_at, dispatched_at)
                 SELECT {id}, d.merchant_id, '{event}', '{object}', {object_id}, {data},
                     {now_p}, NULL
                 FROM bench_due d JOIN merchants m ON m.id = d.merchant_id",
                id = id("evt", offset),
            ),
            vec![now.into()],
        ))
        .await?;
    }
    txn.execute_raw(sql.statement(
        &format!(
            "UPDATE subscriptions SET current_period_start = d.period_start,
                 current_period_end = d.period_end, next_roll_at = d.period_end,
                 updated_at = {now_p}
             FROM bench_due d WHERE subscriptions.id = d.id"
        ),
        vec![now.into()],
    ))
    .await?;
    txn.execute_unprepared(
        "UPDATE merchants SET next_invoice_number = next_invoice_number + c.count
         FROM (SELECT merchant_id, count(*) AS count FROM bench_due GROUP BY merchant_id) c
         WHERE merchants.id = c.merchant_id",
    )
    .await?;
    txn.execute_unprepared("DROP TABLE bench_due").await?;
    txn.commit().await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// What a billing run wrote, to compare the engine's with [`bill`]'s: the
/// rows of every table of the schema, the events of each type, the
/// payment requests to push, the subscriptions rolled past `now` and the
/// merchants' invoice counters.
pub async fn tally(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<BTreeMap<String, i64>> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    let sql = Sql { postgres };
    let tables = if postgres {
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    };
    let mut out = BTreeMap::new();
    for row in db.query_all_raw(sql.statement(tables, vec![])).await? {
        let table: String = row.try_get("", "name")?;
        let count = one(
            db,
            &sql,
            &format!("SELECT count(*) AS n FROM \"{table}\""),
            vec![],
        )
        .await?;
        out.insert(table, count);
    }
    for row in db
        .query_all_raw(sql.statement(
            "SELECT type, count(*) AS n FROM events GROUP BY type",
            vec![],
        ))
        .await?
    {
        let event: String = row.try_get("", "type")?;
        out.insert(format!("events: {event}"), row.try_get("", "n")?);
    }
    for (what, query, values) in [
        (
            "payment_requests: to push",
            "SELECT count(*) AS n FROM payment_requests WHERE push".to_owned(),
            vec![],
        ),
        (
            "invoices: open",
            "SELECT count(*) AS n FROM invoices WHERE status = 'open'".to_owned(),
            vec![],
        ),
        (
            "subscriptions: rolled past now",
            format!(
                "SELECT count(*) AS n FROM subscriptions WHERE current_period_start <= {p} \
                 AND current_period_end > {p} AND next_roll_at = current_period_end",
                p = sql.param(1)
            ),
            vec![now.into()],
        ),
        (
            "merchants: next invoice numbers",
            "SELECT CAST(sum(next_invoice_number) AS BIGINT) AS n FROM merchants".to_owned(),
            vec![],
        ),
    ] {
        out.insert(what.to_owned(), one(db, &sql, &query, values).await?);
    }
    Ok(out)
}

async fn one(
    db: &DatabaseConnection,
    sql: &Sql,
    query: &str,
    values: Vec<sea_orm::Value>,
) -> Result<i64> {
    Ok(db
        .query_one_raw(sql.statement(query, values))
        .await?
        .map(|row| row.try_get::<Option<i64>>("", "n"))
        .transpose()?
        .flatten()
        .unwrap_or(0))
}

/// The few expressions that differ between the two backends.
struct Sql {
    postgres: bool,
}

impl Sql {
    fn statement(&self, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
        let backend = if self.postgres {
            DatabaseBackend::Postgres
        } else {
            DatabaseBackend::Sqlite
        };
        Statement::from_sql_and_values(backend, sql, values)
    }

    fn param(&self, i: usize) -> String {
        if self.postgres {
            format!("${i}")
        } else {
            format!("?{i}")
        }
    }

    /// A time as the engine writes it (SQLite: RFC 3339 text).
    fn time(&self, expr: &str, modifier: &str) -> String {
        format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', {expr}, {modifier})")
    }

    fn plus_month(&self, expr: &str) -> String {
        if self.postgres {
            format!("({expr} + interval '1 month')")
        } else {
            self.time(expr, "'+1 month'")
        }
    }

    fn plus_seconds(&self, expr: &str, seconds: &str) -> String {
        if self.postgres {
            format!("({expr} + make_interval(secs => {seconds}))")
        } else {
            self.time(expr, &format!("'+' || {seconds} || ' seconds'"))
        }
    }

    fn greatest(&self, a: &str, b: &str) -> String {
        if self.postgres {
            format!("greatest({a}, {b})")
        } else {
            format!("max({a}, {b})")
        }
    }

    /// An integer as zero-padded text of at least `width` digits.
    fn pad(&self, expr: &str, width: usize) -> String {
        if self.postgres {
            format!("lpad(({expr})::text, {width}, '0')")
        } else {
            format!("printf('%0{width}d', {expr})")
        }
    }

    fn json(&self, fields: &[(&str, &str)]) -> String {
        let pairs: Vec<String> = fields.iter().map(|(k, v)| format!("'{k}', {v}")).collect();
        if self.postgres {
            format!("json_build_object({})", pairs.join(", "))
        } else {
            format!("json_object({})", pairs.join(", "))
        }
    }
}
