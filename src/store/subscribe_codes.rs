//! The `subscribe_codes` table: what a merchant hands a subscriber to start
//! the subscribe handshake.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscribe_codes")]
pub struct Model {
    /// The code part (`<code>@<node>@<host:port>`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub merchant_id: String,
    /// A plan code: each subscriber gets a customer and a subscription.
    pub plan_id: Option<String>,
    /// An account code: links that customer, once.
    pub customer_id: Option<String>,
    /// The cap per window the merchant suggests in the terms; for a plan
    /// code without one, the plan's amount per matching window.
    pub cap_msat: Option<i64>,
    pub window: Option<String>,
    pub expires_at: DateTimeUtc,
    /// When an account code was used.
    pub used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
