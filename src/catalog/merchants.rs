use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};

use crate::domain::ids::MerchantId;
use crate::error::{Error, Result};
use crate::store::merchants;

/// Creates a merchant. `invoice_prefix` starts every invoice number (ACME-000001).
pub async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    name: &str,
    invoice_prefix: &str,
) -> Result<merchants::Model> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    if invoice_prefix.is_empty()
        || invoice_prefix.len() > 12
        || !invoice_prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(Error::invalid(
            "invoice_prefix",
            "must be 1 to 12 characters A-Z or 0-9",
        ));
    }
    let row = merchants::ActiveModel {
        id: Set(MerchantId::new().to_string()),
        name: Set(name.to_owned()),
        invoice_prefix: Set(invoice_prefix.to_owned()),
        next_invoice_number: Set(1),
        settings: Set(serde_json::json!({})),
        node_operator: Set(false),
        fiat_currency: Set(None),
        fiat_minor_per_btc: Set(None),
        fiat_rate_set_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

/// Creates a merchant and its first API key in one transaction; the key's
/// secret is in the result and nowhere else. A `node_operator` merchant may
/// drive the deployment's Lightning node (/v1/node).
pub async fn create_with_api_key(
    db: &sea_orm::DatabaseConnection,
    now: DateTime<Utc>,
    name: &str,
    invoice_prefix: &str,
    mode: crate::auth::api_keys::Mode,
    node_operator: bool,
) -> Result<(merchants::Model, crate::auth::api_keys::CreatedKey)> {
    let txn = crate::store::begin_write(db).await?;
    let mut merchant = create(&txn, now, name, invoice_prefix).await?;
    if node_operator {
        merchant = set_node_operator(&txn, now, &merchant.id, true).await?;
    }
    let key = crate::auth::api_keys::create(&txn, now, &merchant.id, "Default key", mode).await?;
    txn.commit().await?;
    Ok((merchant, key))
}

/// Grants or withdraws the right to drive the deployment's Lightning node.
pub async fn set_node_operator(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    node_operator: bool,
) -> Result<merchants::Model> {
    let row = merchants::ActiveModel {
        id: Set(merchant_id.to_owned()),
        node_operator: Set(node_operator),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(row.update(db).await?)
}

/// Whether the merchant may drive the deployment's Lightning node.
pub async fn is_node_operator(db: &impl ConnectionTrait, merchant_id: &str) -> Result<bool> {
    use sea_orm::EntityTrait;
    let merchant = merchants::Entity::find_by_id(merchant_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("merchant", merchant_id))?;
    Ok(merchant.node_operator)
}

/// The merchant, or NotFound.
pub async fn get(db: &impl ConnectionTrait, merchant_id: &str) -> Result<merchants::Model> {
    use sea_orm::EntityTrait;
    merchants::Entity::find_by_id(merchant_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("merchant", merchant_id))
}
