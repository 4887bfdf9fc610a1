//! The `invoices` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub customer_id: String,
    pub subscription_id: Option<String>,
    pub plan_id: Option<String>,
    pub number: String,
    pub description: Option<String>,
    pub period_start: Option<DateTimeUtc>,
    pub period_end: Option<DateTimeUtc>,
    pub amount_msat: i64,
    /// The part of `amount_msat` paid from the customer's balance when the
    /// invoice was created; its payment requests ask for the rest.
    pub credit_applied_msat: i64,
    pub status: String,
    pub due_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub voided_at: Option<DateTimeUtc>,
    pub marked_uncollectible_at: Option<DateTimeUtc>,
    pub attempt_count: i32,
    pub dunning_step: i32,
    pub next_dunning_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// What is left to pay once the credit is applied.
    pub fn amount_due_msat(&self) -> i64 {
        self.amount_msat - self.credit_applied_msat
    }
}
