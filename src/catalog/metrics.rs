//! The dashboard overview's numbers: subscriptions per status, monthly
//! recurring revenue, and the money collected per month. Read from indexes
//! (`subscriptions (merchant_id, status, plan_id)` and `invoices
//! (merchant_id, status, paid_at, amount_msat)`, migration 19): one GROUP
//! BY over the merchant's index entries and one range sum per month, never
//! the rows themselves. docs/dashboard.md has the timings at 100,000
//! subscriptions.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeZone, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};

use crate::domain::{Interval, InvoiceStatus, Schedule, SubscriptionStatus};
use crate::error::Result;
use crate::store::{invoices, plans, subscriptions};

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
    n: i64,
}

#[derive(Debug, FromQueryResult)]
struct Sum {
    total: Option<i64>,
}

pub async fn overview(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    now: DateTime<Utc>,
) -> Result<Overview> {
    let counts: Vec<StatusCount> = subscriptions::Entity::find()
        .select_only()
        .column(subscriptions::Column::Status)
        .column(subscriptions::Column::PlanId)
        .column_as(Expr::col(subscriptions::Column::Id).count(), "n")
        .filter(subscriptions::Column::MerchantId.eq(merchant_id))
        .group_by(subscriptions::Column::Status)
        .group_by(subscriptions::Column::PlanId)
        .into_model()
        .all(db)
        .await?;
    let mut o = Overview::default();
    let mut paying: HashMap<String, u64> = HashMap::new();
    for c in &counts {
        let n = std::cmp::max(c.n, 0) as u64;
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
    let mut months = Vec::with_capacity(12);
    for back in (0..12).rev() {
        let start = month_start(now, back);
        let end = month_start(now, back - 1);
        let sum: Option<Sum> = invoices::Entity::find()
            .select_only()
            // PostgreSQL sums a bigint as numeric: back to bigint.
            .column_as(
                Expr::expr(Func::cast_as(
                    Expr::col(invoices::Column::AmountMsat).sum(),
                    "BIGINT",
                )),
                "total",
            )
            .filter(invoices::Column::MerchantId.eq(merchant_id))
            .filter(invoices::Column::Status.eq(InvoiceStatus::Paid.as_str()))
            .filter(invoices::Column::PaidAt.gte(start))
            .filter(invoices::Column::PaidAt.lt(end))
            .into_model()
            .one(db)
            .await?;
        months.push(MonthRevenue {
            month: start,
            paid_msat: sum.and_then(|s| s.total).unwrap_or(0),
        });
    }
    Ok(months)
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
