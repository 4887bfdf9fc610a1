//! The `grants` table: subscribers' consent to one merchant's subscription
//! or account (docs/push-invoices.md section 4).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub customer_id: String,
    /// `None`: an account grant (the customer's one-off invoices).
    pub subscription_id: Option<String>,
    /// The grant id the subscriber's node chose: 32 lowercase hex, what
    /// invoices commit to.
    pub grant_key: String,
    /// The subscriber's node, proven by the handshake.
    pub node_id: String,
    pub cap_msat: i64,
    /// `minute`, `hour`, `day`, `week` or `month`.
    pub window: String,
    pub per_invoice_max_msat: Option<i64>,
    pub ends_at: Option<DateTimeUtc>,
    /// `active` or `ended`.
    pub status: String,
    /// `subscriber` or `merchant`, once ended.
    pub ended_by: Option<String>,
    /// Ended on the merchant's side, and the subscriber's node has not
    /// acknowledged `grant_end` yet.
    pub end_notice_pending: bool,
    pub created_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const ACTIVE: &str = "active";
pub const ENDED: &str = "ended";
