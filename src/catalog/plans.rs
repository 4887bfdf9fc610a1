use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter,
};

use crate::catalog::policy::{DEFAULT_PAYMENT_DUE_SECS, DunningPolicy};
use crate::domain::ids::PlanId;
use crate::domain::{GraceAction, Interval, Msat, Schedule};
use crate::error::{Error, Result};
use crate::store::page::{self, Page, PageParams};
use crate::store::{self, plans};

pub const ACTIVE: &str = "active";
pub const ARCHIVED: &str = "archived";

/// A plan as the merchant describes it, already parsed into domain types.
#[derive(Debug, Clone)]
pub struct NewPlan {
    pub name: String,
    pub description: Option<String>,
    pub amount: Msat,
    pub schedule: Schedule,
    pub trial: Duration,
    pub payment_due: Duration,
    pub dunning: DunningPolicy,
}

impl NewPlan {
    /// A plan with the default trial (none), due time and dunning.
    pub fn new(name: &str, amount: Msat, schedule: Schedule) -> Self {
        Self {
            name: name.to_owned(),
            description: None,
            amount,
            schedule,
            trial: Duration::zero(),
            payment_due: Duration::seconds(DEFAULT_PAYMENT_DUE_SECS),
            dunning: DunningPolicy::default(),
        }
    }

    fn validate(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::invalid("name", "must be 1 to 200 characters"));
        }
        check_description(self.description.as_deref())?;
        self.amount
            .check_invoiceable()
            .map_err(|e| Error::invalid("amount_msat", e.to_string()))?;
        if self.trial < Duration::zero() || self.trial > Duration::days(730) {
            return Err(Error::invalid("trial_period_days", "must be 0 to 730 days"));
        }
        if self.payment_due < Duration::zero() || self.payment_due > Duration::days(90) {
            return Err(Error::invalid("payment_due_secs", "must be 0 to 90 days"));
        }
        self.dunning.validate()
    }
}

/// A plan as submitted (the API's JSON, the dashboard's form), before it
/// is parsed: every rule and error message is here, so both say the same.
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    pub name: String,
    pub description: Option<String>,
    pub amount: Msat,
    /// BTC, the only currency.
    pub currency: Option<String>,
    /// day, week, month, year or cron.
    pub interval: String,
    pub interval_count: Option<u32>,
    pub cron_expression: Option<String>,
    pub trial_period_days: Option<u32>,
    pub payment_due_secs: Option<u32>,
    pub retry_schedule_secs: Option<Vec<u32>>,
    pub grace_period_secs: Option<u32>,
    pub grace_action: Option<String>,
}

impl PlanInput {
    /// The plan, or an error naming the field at fault.
    pub fn parse(self) -> Result<NewPlan> {
        if self
            .currency
            .as_deref()
            .is_some_and(|c| c != crate::objects::CURRENCY)
        {
            return Err(Error::invalid("currency", "only BTC is supported"));
        }
        let schedule = match (self.interval.as_str(), self.cron_expression) {
            ("cron", None) => {
                return Err(Error::invalid(
                    "cron_expression",
                    "required when `interval` is cron",
                ));
            }
            ("cron", Some(expr)) => {
                if self.interval_count.is_some() {
                    return Err(Error::invalid(
                        "interval_count",
                        "not allowed when `interval` is cron",
                    ));
                }
                Schedule::cron(&expr)
                    .map_err(|e| Error::invalid("cron_expression", e.to_string()))?
            }
            (unit, None) => {
                let interval =
                    Interval::parse(unit).map_err(|e| Error::invalid("interval", e.to_string()))?;
                Schedule::every(interval, self.interval_count.unwrap_or(1))
                    .map_err(|e| Error::invalid("interval_count", e.to_string()))?
            }
            (unit, Some(_)) => {
                // Name the field that is wrong: a bad unit, else the expression.
                Interval::parse(unit).map_err(|e| Error::invalid("interval", e.to_string()))?;
                return Err(Error::invalid(
                    "cron_expression",
                    "only allowed when `interval` is cron",
                ));
            }
        };
        let mut plan = NewPlan::new(&self.name, self.amount, schedule);
        plan.description = self.description;
        if let Some(days) = self.trial_period_days {
            if days > 730 {
                return Err(Error::invalid("trial_period_days", "must be 0 to 730"));
            }
            plan.trial = Duration::days(days.into());
        }
        if let Some(secs) = self.payment_due_secs {
            plan.payment_due = Duration::seconds(secs.into());
        }
        let default = DunningPolicy::default();
        plan.dunning = DunningPolicy {
            retries: match self.retry_schedule_secs {
                Some(r) => r.into_iter().map(|s| Duration::seconds(s.into())).collect(),
                None => default.retries,
            },
            grace: self
                .grace_period_secs
                .map_or(default.grace, |s| Duration::seconds(s.into())),
            grace_action: match self.grace_action {
                Some(a) => GraceAction::parse(&a)
                    .map_err(|_| Error::invalid("grace_action", "must be unpaid or cancel"))?,
                None => default.grace_action,
            },
        };
        Ok(plan)
    }
}

/// Creates a plan (in a write transaction, so an `Idempotency-Key` commits
/// with it).
pub async fn create(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    plan: NewPlan,
) -> Result<plans::Model> {
    plan.validate()?;
    let retries: Vec<i64> = plan
        .dunning
        .retries
        .iter()
        .map(|d| d.num_seconds())
        .collect();
    let row = plans::ActiveModel {
        id: Set(PlanId::new().to_string()),
        merchant_id: Set(merchant_id.to_owned()),
        name: Set(plan.name.trim().to_owned()),
        description: Set(plan.description),
        amount_msat: Set(plan.amount.to_i64()),
        interval_unit: Set(plan.schedule.unit_str().to_owned()),
        interval_count: Set(plan.schedule.count() as i32),
        cron_expression: Set(plan.schedule.cron_expr().map(str::to_owned)),
        trial_period_secs: Set(plan.trial.num_seconds()),
        payment_due_secs: Set(plan.payment_due.num_seconds()),
        retry_schedule_secs: Set(serde_json::json!(retries)),
        grace_period_secs: Set(plan.dunning.grace.num_seconds()),
        grace_action: Set(plan.dunning.grace_action.as_str().to_owned()),
        status: Set(ACTIVE.to_owned()),
        signup_link: Set(plans::new_signup_link()),
        metadata: Set(serde_json::json!({})),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let txn = store::begin_write(db).await?;
    let plan = row.insert(&txn).await?;
    txn.commit().await?;
    Ok(plan)
}

/// The merchant's plan, or NotFound (also for another merchant's plan).
pub async fn get(db: &impl ConnectionTrait, merchant_id: &str, id: &str) -> Result<plans::Model> {
    plans::Entity::find_by_id(id)
        .filter(plans::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("plan", id))
}

/// The plan whose hosted signup page is `/s/{link}` and its merchant, for
/// anyone (the page is public); `None` for an unknown link.
pub async fn find_by_signup_link(
    db: &impl ConnectionTrait,
    link: &str,
) -> Result<Option<plans::Model>> {
    if !plans::is_signup_link(link) {
        return Ok(None);
    }
    Ok(plans::Entity::find()
        .filter(plans::Column::SignupLink.eq(link))
        .one(db)
        .await?)
}

/// The merchant's plans, newest first, optionally only those in `status`.
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    status: Option<&str>,
    page: &PageParams,
) -> Result<Page<plans::Model>> {
    let mut select = plans::Entity::find().filter(plans::Column::MerchantId.eq(merchant_id));
    if let Some(status) = status {
        if ![ACTIVE, ARCHIVED].contains(&status) {
            return Err(Error::invalid("status", "must be active or archived"));
        }
        select = select.filter(plans::Column::Status.eq(status));
    }
    Ok(page::fetch(db, select, plans::Column::Id, page).await?)
}

/// What may change on a plan: its wording. Prices and schedules are fixed
/// once subscriptions bill against them.
#[derive(Debug, Clone, Default)]
pub struct PlanUpdate {
    pub name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
}

pub async fn update(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    change: PlanUpdate,
) -> Result<plans::Model> {
    let plan = get(db, merchant_id, id).await?;
    let mut row: plans::ActiveModel = plan.into();
    if let Some(name) = change.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(Error::invalid("name", "must be 1 to 200 characters"));
        }
        row.name = Set(name.to_owned());
    }
    if let Some(description) = change.description {
        check_description(description.as_deref())?;
        row.description = Set(description);
    }
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Archives a plan: no new subscriptions; existing ones keep billing.
pub async fn archive(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
) -> Result<plans::Model> {
    let plan = get(db, merchant_id, id).await?;
    if plan.status == ARCHIVED {
        return Ok(plan);
    }
    let mut row: plans::ActiveModel = plan.into();
    row.status = Set(ARCHIVED.to_owned());
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

fn check_description(description: Option<&str>) -> Result<()> {
    if description.is_some_and(|d| d.chars().count() > 1000) {
        return Err(Error::invalid("description", "at most 1000 characters"));
    }
    Ok(())
}
