//! The `wallet_connections` table: a subscriber's Nostr Wallet Connect
//! connection for one subscription. The URI (it holds the client secret) is
//! only ever stored sealed (`crate::nwc::seal`), and erased on removal.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "wallet_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub customer_id: String,
    pub subscription_id: String,
    /// `active` or `removed` ([`crate::domain::WalletConnectionStatus`]).
    pub status: String,
    /// The wallet service's public key (64 hex digits): where requests go.
    pub wallet_pubkey: String,
    /// JSON array of the relay URLs.
    pub relays: String,
    /// `nip44_v2` or `nip04`: chosen once, at connect time.
    pub cipher: String,
    /// The sealed URI; `None` once removed.
    pub secret_sealed: Option<String>,
    pub wallet_alias: Option<String>,
    /// JSON array of the NIP-47 methods the wallet said it supports.
    pub wallet_methods: String,
    /// The connection's budget per renewal period, msat, as the wallet
    /// answered `get_budget` (NWC-13) when it was connected; `None` when it
    /// offers no such answer or has no budget.
    pub budget_total_msat: Option<i64>,
    /// What was already spent of it then, msat.
    pub budget_used_msat: Option<i64>,
    /// `daily`, `weekly`, `monthly`, `yearly` or `never`.
    pub budget_renewal: Option<String>,
    pub created_at: DateTimeUtc,
    pub removed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn relays(&self) -> Vec<String> {
        serde_json::from_str(&self.relays).unwrap_or_default()
    }

    pub fn methods(&self) -> Vec<String> {
        serde_json::from_str(&self.wallet_methods).unwrap_or_default()
    }
}

/// The subscription's active connection, if any.
pub async fn active_for(
    db: &impl sea_orm::ConnectionTrait,
    subscription_id: &str,
) -> Result<Option<Model>, DbErr> {
    Ok(active_for_all(db, [subscription_id]).await?.pop())
}

/// The active connections of these subscriptions (the partial unique
/// index on active rows serves it), in `IN` lists of [`super::IDS_PER_QUERY`].
pub async fn active_for_all<'a>(
    db: &impl sea_orm::ConnectionTrait,
    subscription_ids: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Model>, DbErr> {
    let mut ids: Vec<&str> = subscription_ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let active = crate::domain::WalletConnectionStatus::Active.as_str();
    let mut found = Vec::new();
    for chunk in ids.chunks(super::IDS_PER_QUERY) {
        found.extend(
            Entity::find()
                .filter(Column::Status.eq(active))
                .filter(Column::SubscriptionId.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(found)
}
