//! `pushbill bench pages`: every dashboard page of one merchant with N
//! subscriptions (each billed once by a real billing run, so it has an open
//! invoice, a paid one before it, its payment request and its events), asked
//! one request after another by a signed-in browser's cookie, beside
//! `GET /healthz` on the same server. Each page's latency is printed with
//! the ceiling's, their ratio, and whether the page is under the 50 ms
//! target of issue 14.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::billing::{BillingReport, bill, monthly_plan};
use super::load::{self, Target};
use super::report::{load_average, quantile_ms};
use crate::auth::sessions;
use crate::catalog::accounts::{self, SignUp};
use crate::catalog::metrics;
use crate::error::{Error, Result};
use crate::store::{customers, invoices, subscriptions};

/// The latency every dashboard page must stay under (issue 14).
pub const TARGET_MS: f64 = 50.0;

/// The merchant whose pages are asked for: its session cookie and the paths.
pub struct Seed {
    pub cookie: String,
    pub paths: Vec<String>,
    pub billing: BillingReport,
}

/// A dashboard merchant (signed up as on the page) with `n` subscriptions
/// billed once, and a session of its owner.
pub async fn seed(db: &DatabaseConnection, n: usize) -> Result<Seed> {
    let now = Utc::now();
    let (merchant, user) = accounts::sign_up(
        db,
        now,
        SignUp {
            business_name: "Bench Pages Merchant".into(),
            email: "owner@bench.example".into(),
            password: "correct horse battery staple".into(),
        },
    )
    .await?;
    let plan = monthly_plan(db, now, &merchant.id).await?;
    let billing = bill(db, now, &[(merchant.clone(), plan.clone())], n, 500, 1).await?;
    // What the scheduler does after a tick: fold the overview's counters;
    // and what autovacuum does on a live database after a billing run:
    // refresh the planner's statistics and flush the run's writes.
    metrics::compact(db).await?;
    settle(db).await?;
    let token = sessions::start(db, now, &user, chrono::Duration::hours(1)).await?;
    let subscription = subscriptions::Entity::find()
        .filter(subscriptions::Column::MerchantId.eq(merchant.id.clone()))
        .order_by_desc(subscriptions::Column::Id)
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt("the bench seeded no subscription"))?;
    let customer = subscription.customer_id.clone();
    // A cursor in the middle of the merchant's customers.
    let middle_customer = customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(merchant.id.clone()))
        .order_by_asc(customers::Column::Id)
        .offset(n as u64 / 2)
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt("the bench seeded no customer"))?
        .id;
    let invoice = invoices::Entity::find()
        .filter(invoices::Column::SubscriptionId.eq(subscription.id.clone()))
        .filter(invoices::Column::Status.eq("open"))
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt("the billing run made no open invoice"))?;
    let paths = [
        "/dashboard".to_owned(),
        "/dashboard/plans".to_owned(),
        format!("/dashboard/plans/{}", plan.id),
        "/dashboard/customers".to_owned(),
        format!("/dashboard/customers?after={middle_customer}"),
        format!("/dashboard/customers?q=customer{}@", n / 2),
        "/dashboard/customers?q=customer".to_owned(),
        format!("/dashboard/customers/{customer}"),
        "/dashboard/subscriptions".to_owned(),
        "/dashboard/subscriptions?status=active".to_owned(),
        "/dashboard/subscriptions?status=past_due".to_owned(),
        format!("/dashboard/subscriptions/{}", subscription.id),
        "/dashboard/invoices".to_owned(),
        "/dashboard/invoices?status=open".to_owned(),
        "/dashboard/invoices?status=paid".to_owned(),
        "/dashboard/invoices?status=void".to_owned(),
        format!("/dashboard/invoices/{}", invoice.id),
        "/dashboard/webhooks".to_owned(),
        "/dashboard/emails".to_owned(),
        "/dashboard/settings/email".to_owned(),
        "/dashboard/developers".to_owned(),
        "/dashboard/team".to_owned(),
        "/dashboard/sandbox".to_owned(),
    ];
    Ok(Seed {
        cookie: format!("Cookie: {}={token}", crate::web::DASHBOARD_SESSION_COOKIE),
        paths: paths.into(),
        billing,
    })
}

async fn settle(db: &DatabaseConnection) -> Result<()> {
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("ANALYZE").await?;
    if crate::store::is_postgres(db) {
        // Needs a superuser; without one the pages are timed less settled.
        let _ = db.execute_unprepared("CHECKPOINT").await;
    }
    Ok(())
}

/// One page's latencies.
#[derive(Debug, Clone)]
pub struct PageTiming {
    pub path: String,
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone)]
pub struct PagesReport {
    pub backend: String,
    pub subscriptions: usize,
    pub pages: Vec<PageTiming>,
    pub ceiling: PageTiming,
    pub load_before: String,
    pub load_after: String,
}

impl PagesReport {
    /// The pages whose p99 is over [`TARGET_MS`].
    pub fn over_target(&self) -> Vec<&PageTiming> {
        self.pages.iter().filter(|p| p.p99_ms > TARGET_MS).collect()
    }
}

/// Asks each page, then `/healthz`, over one keep-alive connection (a
/// browser's), for `duration` each after a short warm-up.
pub async fn measure(
    addr: SocketAddr,
    backend: &str,
    seed: &Seed,
    duration: Duration,
) -> anyhow::Result<PagesReport> {
    let load_before = load_average();
    let warmup = Duration::from_millis(300);
    let mut pages = Vec::with_capacity(seed.paths.len());
    for path in &seed.paths {
        let target = Target {
            addr,
            paths: vec![path.clone()],
            headers: vec![seed.cookie.clone()],
        };
        let latencies = load::latencies(&target, 1, warmup, duration)
            .await
            .map_err(|e| e.context(format!("GET {path}")))?;
        pages.push(timing(path, &latencies));
    }
    let health = Target {
        addr,
        paths: vec!["/healthz".to_owned()],
        headers: Vec::new(),
    };
    let ceiling = timing(
        "/healthz",
        &load::latencies(&health, 1, warmup, duration).await?,
    );
    Ok(PagesReport {
        backend: backend.to_owned(),
        subscriptions: seed.billing.subscriptions,
        pages,
        ceiling,
        load_before,
        load_after: load_average(),
    })
}

fn timing(path: &str, sorted_us: &[u32]) -> PageTiming {
    PageTiming {
        path: path.to_owned(),
        requests: sorted_us.len(),
        p50_ms: quantile_ms(sorted_us, 0.5),
        p99_ms: quantile_ms(sorted_us, 0.99),
    }
}

impl fmt::Display for PagesReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "dashboard pages of one merchant with {} subscriptions, {}, one connection:",
            self.subscriptions, self.backend
        )?;
        writeln!(
            f,
            "{:<64} {:>8} {:>9} {:>9} {:>8}  target {TARGET_MS:.0} ms",
            "page", "requests", "p50 ms", "p99 ms", "ratio"
        )?;
        for p in &self.pages {
            writeln!(
                f,
                "{:<64} {:>8} {:>9.2} {:>9.2} {:>7.1}%  {}",
                p.path,
                p.requests,
                p.p50_ms,
                p.p99_ms,
                100.0 * self.ceiling.p50_ms / p.p50_ms.max(f64::EPSILON),
                if p.p99_ms <= TARGET_MS {
                    "under"
                } else {
                    "OVER"
                }
            )?;
        }
        writeln!(
            f,
            "ceiling: GET /healthz on the same server: p50 {:.2} ms, p99 {:.2} ms ({} requests); ratio = ceiling p50 / page p50",
            self.ceiling.p50_ms, self.ceiling.p99_ms, self.ceiling.requests
        )?;
        let over = self.over_target();
        writeln!(
            f,
            "pages over {TARGET_MS:.0} ms at p99: {}",
            if over.is_empty() {
                "none".to_owned()
            } else {
                over.iter()
                    .map(|p| p.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )?;
        write!(
            f,
            "load average: {} before, {} after ({} cores)",
            self.load_before,
            self.load_after,
            std::thread::available_parallelism().map_or(0, |n| n.get())
        )
    }
}
