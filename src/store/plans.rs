//! The `plans` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plans")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub amount_msat: i64,
    pub interval_unit: String,
    pub interval_count: i32,
    pub cron_expression: Option<String>,
    pub trial_period_secs: i64,
    pub payment_due_secs: i64,
    pub retry_schedule_secs: Json,
    pub grace_period_secs: i64,
    pub grace_action: String,
    pub status: String,
    pub metadata: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
