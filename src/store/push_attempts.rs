//! The `push_attempts` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "push_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub payment_request_id: String,
    /// `push` (to the customer's node) or `nwc` (to the subscription's
    /// wallet connection).
    pub method: String,
    pub wallet_connection_id: Option<String>,
    /// The customer's node id (`push`), or the wallet service's public key (`nwc`).
    pub node_id: String,
    pub status: String,
    pub reason: Option<String>,
    pub attempted_at: Option<DateTimeUtc>,
    pub replied_at: Option<DateTimeUtc>,
    /// Hex of the 32-byte push id sent on the wire, the same on every re-send.
    pub push_id: Option<String>,
    pub tries: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    /// Wall-clock lease while the node role sends it.
    pub locked_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A push of a payment request to `node_id`, queued for the Lightning node
/// role (`billing::delivery::Target::queued` makes the other rails' rows).
pub fn queued(
    merchant_id: &str,
    payment_request_id: &str,
    node_id: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> ActiveModel {
    use sea_orm::ActiveValue::Set;
    ActiveModel {
        id: Set(crate::domain::ids::PushAttemptId::new().to_string()),
        merchant_id: Set(merchant_id.to_owned()),
        payment_request_id: Set(payment_request_id.to_owned()),
        method: Set(crate::domain::Rail::Push.as_str().to_owned()),
        wallet_connection_id: Set(None),
        node_id: Set(node_id.to_owned()),
        status: Set(crate::domain::PushAttemptStatus::Queued.as_str().to_owned()),
        reason: Set(None),
        attempted_at: Set(None),
        replied_at: Set(None),
        push_id: Set(Some(push_protocol::wire::PushId::random().to_hex())),
        tries: Set(0),
        next_attempt_at: Set(Some(now)),
        locked_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}
