//! The `unpaid_digest_items` table: `invoice.unpaid` events held for the
//! merchant's daily summary (one per event); `digest_id` once summarised.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "unpaid_digest_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub invoice_id: String,
    pub event_id: String,
    pub went_unpaid_at: DateTimeUtc,
    pub digest_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
