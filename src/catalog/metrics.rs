//! The dashboard overview's numbers: subscriptions per status, monthly
//! recurring revenue, and the money collected per month. Read from the
//! counters the database keeps by triggers (migration 36:
//! `subscription_status_counts`, `paid_revenue_months`), never from the
//! merchant's subscriptions or invoices, so a page costs the same at 100 or
//! 1,000,000 subscriptions (docs/performance.md, `pushbill bench pages`).
//! The counters are signed deltas, only ever inserted; [`compact`] folds
//! them into one row per group.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter,
    QuerySelect,
};

use crate::domain::{Interval, Schedule, SubscriptionStatus};
use crate::error::Result;
use crate::store::{self, paid_revenue_months, plans, subscription_status_counts};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    pub active: u64,
    pub trialing: u64,
    pub past_due: u64,
    pub unpaid: u64,
    pub paused: u64,
    /// Active and past-due subscriptions' prices per month (a year's plan
    /// counts a twelfth, a week's 52/12); cron plans are left out.
    pub mrr_msat: i64,
    /// Subscriptions on cron plans, which MRR leaves out.
    pub cron_subscriptions: u64,
    /// Money of the invoices paid in each of the last 12 calendar months
    /// (UTC), oldest first, this month last.
    pub revenue: Vec<MonthRevenue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthRevenue {
    /// The month's first instant.
    pub month: DateTime<Utc>,
    pub paid_msat: i64,
}

#[derive(Debug, FromQueryResult)]
struct StatusCount {
    status: String,
    plan_id: String,
    n: Option<i64>,
}

#[derive(Debug, FromQueryResult)]
struct MonthSum {
    month: String,
    total: Option<i64>,
}

pub async fn overview(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    now: DateTime<Utc>,
) -> Result<Overview> {
    let counts: Vec<StatusCount> = subscription_status_counts::Entity::find()
        .select_only()
        .column(subscription_status_counts::Column::Status)
        .column(subscription_status_counts::Column::PlanId)
        .column_as(big_sum(subscription_status_counts::Column::N), "n")
        .filter(subscription_status_counts::Column::MerchantId.eq(merchant_id))
        .group_by(subscription_status_counts::Column::Status)
        .group_by(subscription_status_counts::Column::PlanId)
        .into_model()
        .all(db)
        .await?;
    let mut o = Overview::default();
    let mut paying: HashMap<String, u64> = HashMap::new();
    for c in &counts {
        let n = std::cmp::max(c.n.unwrap_or(0), 0) as u64;
        match SubscriptionStatus::parse(&c.status) {
            Ok(SubscriptionStatus::Active) => o.active += n,
            Ok(SubscriptionStatus::Trialing) => o.trialing += n,
            Ok(SubscriptionStatus::PastDue) => o.past_due += n,
            Ok(SubscriptionStatus::Unpaid) => o.unpaid += n,
            Ok(SubscriptionStatus::Paused) => o.paused += n,
            _ => {}
        }
        if matches!(
            SubscriptionStatus::parse(&c.status),
            Ok(SubscriptionStatus::Active | SubscriptionStatus::PastDue)
        ) {
            *paying.entry(c.plan_id.clone()).or_default() += n;
        }
    }
    if !paying.is_empty() {
        let ids: Vec<String> = paying.keys().cloned().collect();
        let plans = plans::Entity::find()
            .filter(plans::Column::MerchantId.eq(merchant_id))
            .filter(plans::Column::Id.is_in(ids))
            .all(db)
            .await?;
        let mut mrr: i128 = 0;
        for plan in plans {
            let n = paying.get(&plan.id).copied().unwrap_or(0);
            match monthly_msat(&plan) {
                Some(m) => mrr += m * i128::from(n),
                None => o.cron_subscriptions += n,
            }
        }
        o.mrr_msat = i64::try_from(mrr).unwrap_or(i64::MAX);
    }
    o.revenue = revenue(db, merchant_id, now).await?;
    Ok(o)
}

/// A plan's price per month in msat (rounded down), `None` for cron plans.
fn monthly_msat(plan: &plans::Model) -> Option<i128> {
    let schedule = Schedule::parse_parts(
        &plan.interval_unit,
        std::cmp::max(plan.interval_count, 1) as u32,
        plan.cron_expression.as_deref(),
    )
    .ok()?;
    let Schedule::Every { interval, count } = schedule else {
        return None;
    };
    let amount = i128::from(plan.amount_msat);
    let count = i128::from(count);
    // Per month = amount * (periods per year) / 12.
    let per_year_num = match interval {
        Interval::Day => 365,
        Interval::Week => 52,
        Interval::Month => 12,
        Interval::Year => 1,
    };
    Some(amount * per_year_num / (12 * count))
}

/// The first instant of the month `back` months before `now`'s.
fn month_start(now: DateTime<Utc>, back: i32) -> DateTime<Utc> {
    let months = now.year() * 12 + now.month0() as i32 - back;
    Utc.with_ymd_and_hms(
        months.div_euclid(12),
        months.rem_euclid(12) as u32 + 1,
        1,
        0,
        0,
        0,
    )
    .single()
    .unwrap_or(now)
}

async fn revenue(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    now: DateTime<Utc>,
) -> Result<Vec<MonthRevenue>> {
    let first = month_start(now, 11);
    let sums: Vec<MonthSum> = paid_revenue_months::Entity::find()
        .select_only()
        .column(paid_revenue_months::Column::Month)
        .column_as(big_sum(paid_revenue_months::Column::PaidMsat), "total")
        .filter(paid_revenue_months::Column::MerchantId.eq(merchant_id))
        .filter(paid_revenue_months::Column::Month.gte(month_key(first)))
        .filter(paid_revenue_months::Column::Month.lte(month_key(now)))
        .group_by(paid_revenue_months::Column::Month)
        .into_model()
        .all(db)
        .await?;
    let by_month: HashMap<String, i64> = sums
        .into_iter()
        .map(|s| (s.month, s.total.unwrap_or(0)))
        .collect();
    Ok((0..12)
        .rev()
        .map(|back| {
            let month = month_start(now, back);
            MonthRevenue {
                month,
                paid_msat: by_month.get(&month_key(month)).copied().unwrap_or(0),
            }
        })
        .collect())
}

/// A month as the counters key it: `YYYY-MM` (UTC).
fn month_key(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// `SUM(column)` as a BIGINT (PostgreSQL sums a bigint as numeric).
fn big_sum(column: impl sea_orm::IntoSimpleExpr + sea_orm::sea_query::IntoColumnRef) -> Expr {
    Expr::expr(Func::cast_as(Expr::col(column).sum(), "BIGINT"))
}

/// Folds each counter table's deltas into one row per group (dropping the
/// groups that sum to zero) once it holds more than [`FOLD_AT_ROWS`] rows
/// and twice as many as its last fold left. On PostgreSQL one statement
/// deletes the rows its snapshot sees and inserts their sums, so deltas
/// committed meanwhile stay as they are; on SQLite the write transaction
/// holds every other writer off. The scheduler calls it after each tick.
pub async fn compact(db: &DatabaseConnection) -> Result<()> {
    for (table, left) in [(COUNTS, &COUNTS_LEFT), (REVENUE, &REVENUE_LEFT)] {
        let rows = count_rows(db, table.name).await?;
        if rows > std::cmp::max(FOLD_AT_ROWS, 2 * left.load(Ordering::Relaxed)) {
            fold(db, &table).await?;
            left.store(count_rows(db, table.name).await?, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Below this many rows a counter table is not folded: summing a
/// merchant's few thousand deltas costs less than rewriting the table.
pub const FOLD_AT_ROWS: u64 = 5_000;

// The rows each table had after this process last folded it.
static COUNTS_LEFT: AtomicU64 = AtomicU64::new(0);
static REVENUE_LEFT: AtomicU64 = AtomicU64::new(0);

/// Folds both counter tables now, whatever their size (what [`compact`]
/// does once they have grown).
pub async fn fold_all(db: &DatabaseConnection) -> Result<()> {
    fold(db, &COUNTS).await?;
    fold(db, &REVENUE).await
}

/// A counter table: its grouping columns and its summed column.
struct Counter {
    name: &'static str,
    groups: &'static str,
    value: &'static str,
}

const COUNTS: Counter = Counter {
    name: "subscription_status_counts",
    groups: "merchant_id, plan_id, status",
    value: "n",
};

const REVENUE: Counter = Counter {
    name: "paid_revenue_months",
    groups: "merchant_id, month",
    value: "paid_msat",
};

async fn fold(db: &DatabaseConnection, t: &Counter) -> Result<()> {
    let Counter {
        name,
        groups,
        value,
    } = t;
    if store::is_postgres(db) {
        let sql = format!(
            "WITH gone AS (DELETE FROM {name} RETURNING {groups}, {value}) \
             INSERT INTO {name} ({groups}, {value}) \
             SELECT {groups}, SUM({value})::BIGINT FROM gone GROUP BY {groups} \
             HAVING SUM({value}) <> 0"
        );
        db.execute_unprepared(&sql).await?;
        return Ok(());
    }
    let txn = store::begin_write(db).await?;
    // The deltas up to now; the sums inserted next come after them.
    let last = scalar(
        &txn,
        &format!("SELECT COALESCE(MAX(id), 0) AS n FROM {name}"),
    )
    .await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO {name} ({groups}, {value}) \
         SELECT {groups}, SUM({value}) FROM {name} WHERE id <= {last} \
         GROUP BY {groups} HAVING SUM({value}) <> 0"
    ))
    .await?;
    txn.execute_unprepared(&format!("DELETE FROM {name} WHERE id <= {last}"))
        .await?;
    txn.commit().await?;
    Ok(())
}

async fn count_rows(db: &impl ConnectionTrait, table: &str) -> Result<u64> {
    let n = scalar(db, &format!("SELECT COUNT(*) AS n FROM {table}")).await?;
    Ok(std::cmp::max(n, 0) as u64)
}

/// The `n` column of the one row `sql` answers (0 without one).
async fn scalar(db: &impl ConnectionTrait, sql: &str) -> Result<i64> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await?;
    Ok(row
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_starts_walk_back_across_years() {
        let now: DateTime<Utc> = "2028-02-29T13:00:00Z".parse().unwrap();
        assert_eq!(
            month_start(now, 0).to_rfc3339(),
            "2028-02-01T00:00:00+00:00"
        );
        assert_eq!(
            month_start(now, 2).to_rfc3339(),
            "2027-12-01T00:00:00+00:00"
        );
        assert_eq!(
            month_start(now, 11).to_rfc3339(),
            "2027-03-01T00:00:00+00:00"
        );
        assert_eq!(
            month_start(now, -1).to_rfc3339(),
            "2028-03-01T00:00:00+00:00"
        );
    }
}
