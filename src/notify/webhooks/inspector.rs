//! The sandbox's webhook inspector: a built-in receiver at
//! `/sandbox/inspector/{merchant}` that records what it is sent (the newest
//! [`KEEP`] requests per merchant), so a merchant can point an endpoint at
//! it and read every delivery, its headers, body and whether its signature
//! verifies, without a server of their own. Sandbox only (the web role
//! answers 404 elsewhere).

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Map, Value};

use super::signing::Secret;
use crate::domain::ids::InspectedId;
use crate::store::{webhook_endpoints, webhook_inspector_requests as requests};

/// Requests kept per merchant; older ones are deleted as new ones arrive.
pub const KEEP: u64 = 100;
/// The largest body recorded (larger ones are cut, and say so).
pub const MAX_BODY: usize = 64 * 1024;

/// The inspector's address for `merchant_id` at `origin` (scheme and host).
pub fn url(origin: &str, merchant_id: &str) -> String {
    format!(
        "{}/sandbox/inspector/{merchant_id}",
        origin.trim_end_matches('/')
    )
}

/// Records one request (the caller checked the merchant exists).
pub async fn record(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), DbErr> {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.chars().take(4000).collect::<String>())
    };
    let others: Map<String, Value> = headers
        .iter()
        .filter(|(k, _)| !k.to_ascii_lowercase().starts_with("webhook-"))
        .take(50)
        .map(|(k, v)| (k.clone(), Value::String(v.chars().take(1000).collect())))
        .collect();
    let mut text = String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]).into_owned();
    if body.len() > MAX_BODY {
        text.push_str(&format!(
            "\n[… {} more bytes not kept]",
            body.len() - MAX_BODY
        ));
    }
    requests::Entity::insert(requests::ActiveModel {
        id: Set(InspectedId::new().to_string()),
        merchant_id: Set(merchant_id.to_owned()),
        received_at: Set(now),
        webhook_id: Set(header("webhook-id")),
        webhook_timestamp: Set(header("webhook-timestamp")),
        webhook_signature: Set(header("webhook-signature")),
        headers: Set(Value::Object(others).to_string()),
        body: Set(text.replace('\0', "\u{fffd}")),
    })
    .exec_without_returning(db)
    .await?;
    // Keep the newest KEEP: ids grow with time.
    let keep: Vec<String> = requests::Entity::find()
        .select_only()
        .column(requests::Column::Id)
        .filter(requests::Column::MerchantId.eq(merchant_id))
        .order_by_desc(requests::Column::Id)
        .limit(KEEP)
        .into_tuple()
        .all(db)
        .await?;
    if let Some(oldest) = keep.last()
        && keep.len() as u64 == KEEP
    {
        requests::Entity::delete_many()
            .filter(requests::Column::MerchantId.eq(merchant_id))
            .filter(requests::Column::Id.lt(oldest.as_str()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The merchant's recorded requests, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
) -> Result<Vec<requests::Model>, DbErr> {
    requests::Entity::find()
        .filter(requests::Column::MerchantId.eq(merchant_id))
        .order_by_desc(requests::Column::Id)
        .limit(KEEP)
        .all(db)
        .await
}

/// Whether `request` carries a signature one of `endpoints`' secrets made
/// (current or, while its rotation lasts, previous).
pub fn verifies(
    request: &requests::Model,
    endpoints: &[webhook_endpoints::Model],
    now: DateTime<Utc>,
) -> bool {
    let (Some(id), Some(timestamp), Some(header)) = (
        &request.webhook_id,
        &request.webhook_timestamp,
        &request.webhook_signature,
    ) else {
        return false;
    };
    let Ok(timestamp) = timestamp.parse::<i64>() else {
        return false;
    };
    let given: Vec<&str> = header.split(' ').collect();
    endpoints.iter().any(|e| {
        super::delivery::signing_secrets(e, now)
            .iter()
            .map(|s: &Secret| s.sign(id, timestamp, request.body.as_bytes()))
            .any(|sig| given.contains(&sig.as_str()))
    })
}
