//! The `subscribe_offers` table: every `subscribe_terms` the node sent, the
//! peer it went to, and what its accept made.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscribe_offers")]
pub struct Model {
    /// 32 lowercase hex (the wire's 16-byte `offer_id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub offer_id: String,
    pub code: String,
    pub merchant_id: String,
    /// The peer that asked (BOLT 8): only it may accept.
    pub node_id: String,
    /// `host:port` the peer shared in `subscribe_request`.
    pub node_address: Option<String>,
    /// The terms as sent (a snapshot: the plan may change later).
    pub terms: Json,
    /// Set once accepted: the grant key and the rows it made.
    pub grant_key: Option<String>,
    pub grant_id: Option<String>,
    pub customer_id: Option<String>,
    pub subscription_id: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
