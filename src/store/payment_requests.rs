//! The `payment_requests` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub invoice_id: String,
    pub amount_msat: i64,
    pub status: String,
    pub push: bool,
    pub bolt11: Option<String>,
    pub payment_hash: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    pub issued_at: Option<DateTimeUtc>,
    pub paid_at: Option<DateTimeUtc>,
    pub amount_received_msat: Option<i64>,
    pub failure_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
