//! The `subscriptions` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub customer_id: String,
    pub plan_id: String,
    pub next_plan_id: Option<String>,
    pub status: String,
    pub billing_anchor: DateTimeUtc,
    pub current_period_start: DateTimeUtc,
    pub current_period_end: DateTimeUtc,
    pub trial_start: Option<DateTimeUtc>,
    pub trial_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub paused_at: Option<DateTimeUtc>,
    pub cancellation_reason: Option<String>,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
