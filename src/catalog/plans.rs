use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::billing::policy::{DEFAULT_PAYMENT_DUE_SECS, DunningPolicy};
use crate::domain::ids::PlanId;
use crate::domain::{Msat, Schedule};
use crate::error::{Error, Result};
use crate::store::plans;

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
        if self.trial < Duration::zero() || self.trial > Duration::days(730) {
            return Err(Error::invalid("trial_period_secs", "must be 0 to 730 days"));
        }
        if self.payment_due < Duration::zero() || self.payment_due > Duration::days(90) {
            return Err(Error::invalid("payment_due_secs", "must be 0 to 90 days"));
        }
        self.dunning.validate()
    }
}

pub async fn create(
    db: &impl ConnectionTrait,
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
        metadata: Set(serde_json::json!({})),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

/// The merchant's plan, or NotFound (also for another merchant's plan).
pub async fn get(db: &impl ConnectionTrait, merchant_id: &str, id: &str) -> Result<plans::Model> {
    plans::Entity::find_by_id(id)
        .filter(plans::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("plan", id))
}
