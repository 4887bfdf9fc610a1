//! `pushbill bench billing`: the billing engine on a throwaway database
//! beside its same-run ceiling (`bench::ceiling`, the same rows written by
//! set-based SQL), and the seeding both need (shared with the tests that
//! crash or race the engine over thousands of subscriptions).

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Months, Utc};
use sea_orm::{ActiveValue::Set, DatabaseConnection};

use super::lab::ThrowawayDb;
use super::report::{Comparison, Run};
use crate::billing::engine;
use crate::catalog::{self, plans::NewPlan};
use crate::domain::ids::{CustomerId, InvoiceId, SubscriptionId};
use crate::domain::{Interval, InvoiceStatus, Msat, Schedule, SubscriptionStatus};
use crate::error::{Error, Result};
use crate::store::{self, customers, invoices, merchants, plans, subscriptions};

#[derive(Debug, Clone)]
pub struct Seeded {
    pub merchants: usize,
    pub subscriptions: usize,
}

/// A merchant and the monthly plan (10,000 sat) its seeded subscriptions are on.
pub type Owner = (merchants::Model, plans::Model);

/// Creates `merchants` merchants with a monthly plan each and `n` active
/// subscriptions spread over them (one customer each, every second one with a
/// node) whose period ends at `due_at`.
pub async fn seed_due_subscriptions(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    due_at: DateTime<Utc>,
    n: usize,
    merchants: usize,
) -> Result<Seeded> {
    let owners = bench_merchants(db, now, merchants).await?;
    seed_subscriptions_of(db, now, due_at, n, &owners).await
}

/// `count` (at least one) merchants named "Bench Merchant {i}", each with its plan.
pub async fn bench_merchants(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    count: usize,
) -> Result<Vec<Owner>> {
    let mut owners = Vec::with_capacity(count);
    for m in 0..count.max(1) {
        let merchant =
            catalog::merchants::create(db, now, &format!("Bench Merchant {m}"), &format!("B{m}"))
                .await?;
        let plan = monthly_plan(db, now, &merchant.id).await?;
        owners.push((merchant, plan));
    }
    Ok(owners)
}

/// The seeded subscriptions' plan: 10,000 sat a month.
pub async fn monthly_plan(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
) -> Result<plans::Model> {
    let schedule = Schedule::every(Interval::Month, 1).expect("valid schedule");
    let plan = NewPlan::new(
        "Monthly",
        Msat::from_sat(10_000).expect("valid amount"),
        schedule,
    );
    catalog::plans::create(db, now, merchant_id, plan).await
}

/// `n` active subscriptions spread over `owners` (one customer each, every
/// second one with a node) whose period ends at `due_at`.
pub async fn seed_subscriptions_of(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    due_at: DateTime<Utc>,
    n: usize,
    owners: &[Owner],
) -> Result<Seeded> {
    let start = due_at.checked_sub_months(Months::new(1)).unwrap_or(due_at);
    // A valid node id (the secp256k1 generator point).
    let node = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798".to_owned();
    let mut customer_rows = Vec::with_capacity(n);
    let mut subscription_rows = Vec::with_capacity(n);
    for i in 0..n {
        let (merchant, plan) = &owners[i % owners.len()];
        let customer_id = CustomerId::new().to_string();
        customer_rows.push(customers::ActiveModel {
            id: Set(customer_id.clone()),
            merchant_id: Set(merchant.id.clone()),
            email: Set(Some(format!("customer{i}@example.com"))),
            name: Set(None),
            external_id: Set(None),
            node_id: Set((i % 2 == 0).then(|| node.clone())),
            node_address: Set(None),
            node_id_verified: Set(false),
            metadata: Set(serde_json::json!({})),
            balance_msat: Set(0),
            deleted_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        subscription_rows.push(subscriptions::Model {
            id: SubscriptionId::new().to_string(),
            merchant_id: merchant.id.clone(),
            customer_id,
            plan_id: plan.id.clone(),
            next_plan_id: None,
            status: SubscriptionStatus::Active.as_str().to_owned(),
            billing_anchor: start,
            current_period_start: start,
            current_period_end: due_at,
            next_roll_at: None,
            trial_start: None,
            trial_end: None,
            trial_notice_at: None,
            cancel_at_period_end: false,
            canceled_at: None,
            ended_at: None,
            paused_at: None,
            cancellation_reason: None,
            billing_error: None,
            payment_method: "push".into(),
            metadata: serde_json::json!({}),
            created_at: now,
            updated_at: now,
        });
    }
    store::insert_all(db, customer_rows).await?;
    subscriptions::save_all(db, subscription_rows).await?;
    Ok(Seeded {
        merchants: owners.len(),
        subscriptions: n,
    })
}

/// Gives every subscription a paid invoice for the period before its
/// current one, as a renewal has in a live database, then refreshes the
/// planner's statistics as autovacuum does on a live database. Without
/// history and statistics PostgreSQL guesses that a third of the invoices
/// have dunning due and reads the whole growing table on every batch.
async fn seed_paid_history(db: &DatabaseConnection) -> Result<()> {
    use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, QueryOrder};
    let merchants = merchants::Entity::find().all(db).await?;
    let mut next: HashMap<String, (String, i64)> = merchants
        .into_iter()
        .map(|m| (m.id, (m.invoice_prefix, m.next_invoice_number)))
        .collect();
    let mut pages = subscriptions::Entity::find()
        .order_by_asc(subscriptions::Column::Id)
        .paginate(db, 5_000);
    while let Some(subs) = pages.fetch_and_next().await? {
        let mut rows = Vec::with_capacity(subs.len());
        for sub in subs {
            let (prefix, number) = next
                .get_mut(&sub.merchant_id)
                .ok_or_else(|| Error::corrupt(format!("merchant {}", sub.merchant_id)))?;
            let start = sub
                .current_period_start
                .checked_sub_months(Months::new(1))
                .unwrap_or(sub.current_period_start);
            rows.push(invoices::ActiveModel::from(invoices::Model {
                id: InvoiceId::new().to_string(),
                merchant_id: sub.merchant_id.clone(),
                customer_id: sub.customer_id.clone(),
                subscription_id: Some(sub.id.clone()),
                plan_id: Some(sub.plan_id.clone()),
                number: format!("{prefix}-{number:06}"),
                description: None,
                period_start: Some(start),
                period_end: Some(sub.current_period_start),
                amount_msat: 10_000_000,
                credit_applied_msat: 0,
                status: InvoiceStatus::Paid.as_str().to_owned(),
                due_at: start,
                paid_at: Some(start),
                voided_at: None,
                marked_uncollectible_at: None,
                attempt_count: 1,
                dunning_step: 0,
                next_dunning_at: None,
                created_at: start,
                updated_at: start,
            }));
            *number += 1;
        }
        store::insert_all(db, rows).await?;
    }
    for (id, (_, number)) in next {
        let mut merchant = merchants::Entity::find_by_id(&id)
            .one(db)
            .await?
            .ok_or_else(|| Error::not_found("merchant", id.clone()))?;
        merchant.next_invoice_number = number;
        store::save(db, merchant).await?;
    }
    db.execute_unprepared("ANALYZE").await?;
    if store::is_postgres(db) {
        // Flush the seeding's writes now rather than in the timed run (needs
        // a superuser; without one the run just starts less clean).
        let _ = db.execute_unprepared("CHECKPOINT").await;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct BillingReport {
    pub backend: &'static str,
    pub subscriptions: usize,
    pub merchants: usize,
    pub workers: u32,
    pub periods_rolled: usize,
    pub seconds: f64,
    pub peak_rss_mib: Option<f64>,
}

impl std::fmt::Display for BillingReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rate = self.periods_rolled as f64 / self.seconds.max(f64::EPSILON);
        write!(
            f,
            "billing {} due subscriptions of {} merchant(s) on {} with {} worker(s): {} invoices in {:.2} s = {:.0} invoices/s; peak RSS {}",
            self.subscriptions,
            self.merchants,
            self.backend,
            self.workers,
            self.periods_rolled,
            self.seconds,
            rate,
            self.peak_rss_mib
                .map_or("unknown".to_owned(), |m| format!("{m:.0} MiB")),
        )
    }
}

/// Seeds `n` due subscriptions of `merchants` new merchants into `db`
/// (freshly migrated) and times one billing run over them.
pub async fn billing(
    db: &DatabaseConnection,
    n: usize,
    batch: u64,
    workers: u32,
    merchants: usize,
) -> Result<BillingReport> {
    let now = Utc::now();
    let owners = bench_merchants(db, now, merchants).await?;
    bill(db, now, &owners, n, batch, workers).await
}

/// Seeds `n` subscriptions due at `now` spread over `owners`, each with a
/// paid invoice for its previous period, statistics refreshed: what one
/// billing run (the engine's or the ceiling's) starts from.
pub async fn seed_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    owners: &[Owner],
    n: usize,
) -> Result<()> {
    seed_subscriptions_of(db, now, now - chrono::Duration::minutes(1), n, owners).await?;
    seed_paid_history(db).await
}

/// `bench billing`: `runs` billing runs by the engine and as many by the
/// ceiling (`bench::ceiling::bill`), alternately, each on a throwaway
/// database of its own seeded alike ([`seed_due`]); invoices per second.
pub async fn compare(
    postgres: Option<&str>,
    n: usize,
    batch: u64,
    workers: u32,
    merchants: usize,
    runs: usize,
) -> anyhow::Result<Comparison> {
    let mut backend = "sqlite";
    let mut report = Comparison::new("", "invoices/s");
    for _ in 0..runs.max(1) {
        let (b, run) = timed_run(postgres, n, batch, workers, merchants, false).await?;
        report.runs.push(run);
        let (_, run) = timed_run(postgres, n, batch, workers, merchants, true).await?;
        report.ceiling_runs.push(run);
        backend = b;
    }
    report.what = format!(
        "billing run of {n} due subscriptions ({merchants} merchant(s)) on {backend}, {workers} worker(s), batches of {batch}"
    );
    Ok(report
        .ceiling(
            "the same rows written by set-based SQL (INSERT ... SELECT, UPDATE ... FROM) on the same seed",
            "invoices/s",
        )
        .finish())
}

/// One run of [`compare`] on a throwaway database: the engine's, or the
/// ceiling's; the backend's name and the run.
async fn timed_run(
    postgres: Option<&str>,
    n: usize,
    batch: u64,
    workers: u32,
    merchants: usize,
    ceiling: bool,
) -> anyhow::Result<(&'static str, Run)> {
    let lab = ThrowawayDb::create(postgres, workers.max(1) + 1).await?;
    let outcome = async {
        let now = Utc::now();
        let owners = bench_merchants(&lab.db, now, merchants).await?;
        seed_due(&lab.db, now, &owners, n).await?;
        // Peak memory from here on is the run's (Linux: resets VmHWM).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let invoices = if ceiling {
            usize::try_from(super::ceiling::bill(&lab.db, now).await?).unwrap_or(usize::MAX)
        } else {
            engine::run_due_concurrently(&lab.db, now, batch, workers, &engine::Scope::All)
                .await?
                .periods_rolled
        };
        let seconds = started.elapsed().as_secs_f64();
        let rss = peak_rss_mib().map_or("unknown".to_owned(), |m| format!("{m:.0} MiB"));
        Ok::<_, Error>(Run::new(
            invoices,
            seconds,
            format!("{invoices} invoices in {seconds:.2} s, peak RSS {rss}"),
        ))
    }
    .await;
    let backend = lab.backend();
    lab.drop().await?;
    Ok((backend, outcome?))
}

/// Seeds `n` due subscriptions spread over `owners`, each with a paid
/// invoice for its previous period, and times one billing run over them.
pub async fn bill(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    owners: &[Owner],
    n: usize,
    batch: u64,
    workers: u32,
) -> Result<BillingReport> {
    seed_due(db, now, owners, n).await?;
    // Peak memory from here on is the billing run's (Linux: resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let started = Instant::now();
    let outcome =
        engine::run_due_concurrently(db, now, batch, workers, &engine::Scope::All).await?;
    Ok(BillingReport {
        backend: if store::is_postgres(db) {
            "postgresql"
        } else {
            "sqlite"
        },
        subscriptions: n,
        merchants: owners.len(),
        workers,
        periods_rolled: outcome.periods_rolled,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_mib: peak_rss_mib(),
    })
}

/// The process's peak resident memory (VmHWM), on Linux.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
