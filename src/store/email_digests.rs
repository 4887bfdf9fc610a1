//! The `email_digests` table: one row per merchant and UTC day a summary of
//! unpaid invoices was made (unique on both).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "email_digests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    /// YYYY-MM-DD (UTC).
    pub digest_date: String,
    pub invoice_count: i32,
    /// The queued email; `None` when the merchant has no address.
    pub email_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
