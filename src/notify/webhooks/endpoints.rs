//! Merchants' webhook endpoints and their deliveries: the service behind
//! /v1/webhook_endpoints and /v1/webhook_deliveries.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use super::signing::Secret;
use crate::config::{Network, Settings};
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::domain::{EventType, WebhookDeliveryStatus};
use crate::error::Error;
use crate::ssrf::{self, Policy, Refused};
use crate::store::page::{self, Page, PageParams};
use crate::store::{webhook_deliveries, webhook_delivery_attempts, webhook_endpoints};

pub const ENABLED: &str = "enabled";
pub const DISABLED: &str = "disabled";
/// Every event type, now and later.
pub const ALL_EVENTS: &str = "*";
/// How long a rotated-out secret keeps signing, unless told otherwise.
pub const DEFAULT_ROTATION_OVERLAP_SECS: u64 = 86_400;
const MAX_ROTATION_OVERLAP_SECS: u64 = 7 * 86_400;
const MAX_ENDPOINTS_PER_MERCHANT: u64 = 20;
const MAX_URL_LEN: usize = 2048;

/// Why an endpoint request failed: a URL the SSRF guard refuses (422), or
/// anything else.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("url: {0}")]
    Refused(Refused),
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<sea_orm::DbErr> for EndpointError {
    fn from(e: sea_orm::DbErr) -> Self {
        EndpointError::Other(Error::Database(e))
    }
}

type Result<T, E = EndpointError> = std::result::Result<T, E>;

/// What the SSRF guard allows under these settings.
pub fn policy(settings: &Settings) -> Policy {
    let allow_private = settings.webhooks_allow_private();
    Policy {
        allow_private,
        allow_http: allow_private
            || matches!(settings.app.network, Network::Sandbox | Network::Regtest),
    }
}

/// Checks an endpoint URL: its form (400) and where it resolves (422).
async fn check_url(url: &str, policy: Policy) -> Result<String> {
    if url.len() > MAX_URL_LEN {
        return Err(Error::invalid("url", format!("at most {MAX_URL_LEN} characters")).into());
    }
    let parsed = ssrf::check_form(url, policy).map_err(|e| Error::invalid("url", e.to_string()))?;
    ssrf::resolve(&parsed, policy)
        .await
        .map_err(EndpointError::Refused)?;
    Ok(parsed.to_string())
}

/// `["*"]`, or a list of known event types (duplicates dropped).
pub fn parse_enabled_events(events: &[String]) -> Result<Value, Error> {
    if events.is_empty() {
        return Err(Error::invalid(
            "enabled_events",
            "give [\"*\"] for every event, or a list of event types",
        ));
    }
    if events.iter().any(|e| e == ALL_EVENTS) {
        if events.len() > 1 {
            return Err(Error::invalid(
                "enabled_events",
                "\"*\" stands alone: it already means every event",
            ));
        }
        return Ok(json!([ALL_EVENTS]));
    }
    let mut types: Vec<&str> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let t = EventType::parse(e).ok_or_else(|| {
            Error::invalid(
                &format!("enabled_events[{i}]"),
                format!("unknown event type `{e}`"),
            )
        })?;
        if !types.contains(&t.as_str()) {
            types.push(t.as_str());
        }
    }
    Ok(json!(types))
}

/// Does an endpoint with these `enabled_events` want events of `event_type`?
pub fn wants(enabled_events: &Value, event_type: &str) -> bool {
    enabled_events
        .as_array()
        .is_some_and(|a| a.iter().any(|t| t == ALL_EVENTS || t == event_type))
}

fn check_description(description: Option<&str>) -> Result<(), Error> {
    if description.is_some_and(|d| d.chars().count() > 1000) {
        return Err(Error::invalid("description", "at most 1000 characters"));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: Option<String>,
}

/// An endpoint just created or rotated, with the secret shown this once.
pub struct WithSecret {
    pub endpoint: webhook_endpoints::Model,
    pub secret: String,
}

pub async fn create(
    db: &DatabaseConnection,
    policy: Policy,
    now: DateTime<Utc>,
    merchant_id: &str,
    new: NewEndpoint,
) -> Result<WithSecret> {
    let event_types = parse_enabled_events(&new.enabled_events)?;
    check_description(new.description.as_deref())?;
    let url = check_url(&new.url, policy).await?;
    let count = webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::MerchantId.eq(merchant_id))
        .count(db)
        .await?;
    if count >= MAX_ENDPOINTS_PER_MERCHANT {
        return Err(Error::conflict(
            "too_many_endpoints",
            format!("a merchant has at most {MAX_ENDPOINTS_PER_MERCHANT} webhook endpoints"),
        )
        .into());
    }
    let secret = Secret::generate().expose();
    let row = webhook_endpoints::ActiveModel {
        id: Set(WebhookEndpointId::new().to_string()),
        merchant_id: Set(merchant_id.to_owned()),
        url: Set(url),
        description: Set(new.description),
        event_types: Set(event_types),
        secret: Set(secret.clone()),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        status: Set(ENABLED.to_owned()),
        disabled_reason: Set(None),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let endpoint = row.insert(db).await?;
    Ok(WithSecret { endpoint, secret })
}

/// The merchant's endpoint, or NotFound (also for another merchant's).
pub async fn get(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    id: &str,
) -> Result<webhook_endpoints::Model, Error> {
    webhook_endpoints::Entity::find_by_id(id)
        .filter(webhook_endpoints::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("webhook_endpoint", id))
}

pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    page: &PageParams,
) -> Result<Page<webhook_endpoints::Model>, Error> {
    let select = webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::MerchantId.eq(merchant_id));
    Ok(page::fetch(db, select, webhook_endpoints::Column::Id, page).await?)
}

#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub enabled_events: Option<Vec<String>>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
}

pub async fn update(
    db: &DatabaseConnection,
    policy: Policy,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    change: EndpointUpdate,
) -> Result<webhook_endpoints::Model> {
    let endpoint = get(db, merchant_id, id).await?;
    let mut row: webhook_endpoints::ActiveModel = endpoint.clone().into();
    if let Some(events) = change.enabled_events {
        row.event_types = Set(parse_enabled_events(&events)?);
    }
    if let Some(description) = change.description {
        check_description(description.as_deref())?;
        row.description = Set(description);
    }
    if let Some(url) = change.url {
        row.url = Set(check_url(&url, policy).await?);
    }
    match change.enabled {
        Some(true) if endpoint.status != ENABLED => {
            row.status = Set(ENABLED.to_owned());
            row.disabled_reason = Set(None);
            row.failing_since = Set(None);
        }
        Some(false) if endpoint.status != DISABLED => {
            row.status = Set(DISABLED.to_owned());
            row.disabled_reason = Set(Some("manual".to_owned()));
        }
        _ => {}
    }
    row.updated_at = Set(now);
    Ok(row.update(db).await?)
}

/// Deletes an endpoint and its delivery history.
pub async fn delete(
    db: &DatabaseConnection,
    merchant_id: &str,
    id: &str,
) -> Result<webhook_endpoints::Model, Error> {
    let txn = crate::store::begin_write(db).await?;
    let endpoint = get(&txn, merchant_id, id).await?;
    webhook_delivery_attempts::Entity::delete_many()
        .filter(webhook_delivery_attempts::Column::EndpointId.eq(&endpoint.id))
        .exec(&txn)
        .await?;
    webhook_deliveries::Entity::delete_many()
        .filter(webhook_deliveries::Column::EndpointId.eq(&endpoint.id))
        .exec(&txn)
        .await?;
    webhook_endpoints::Entity::delete_by_id(&endpoint.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(endpoint)
}

/// A new secret; the current one keeps signing for `overlap_secs` (default a
/// day) so receivers can switch without missing a message.
pub async fn rotate_secret(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    overlap_secs: Option<u64>,
) -> Result<WithSecret, Error> {
    let overlap = overlap_secs.unwrap_or(DEFAULT_ROTATION_OVERLAP_SECS);
    if overlap > MAX_ROTATION_OVERLAP_SECS {
        return Err(Error::invalid(
            "expires_in",
            format!("at most {MAX_ROTATION_OVERLAP_SECS} seconds"),
        ));
    }
    let endpoint = get(db, merchant_id, id).await?;
    let secret = Secret::generate().expose();
    let mut row: webhook_endpoints::ActiveModel = endpoint.clone().into();
    if overlap > 0 {
        row.previous_secret = Set(Some(endpoint.secret));
        row.previous_secret_expires_at = Set(Some(now + Duration::seconds(overlap as i64)));
    } else {
        row.previous_secret = Set(None);
        row.previous_secret_expires_at = Set(None);
    }
    row.secret = Set(secret.clone());
    row.updated_at = Set(now);
    let endpoint = row.update(db).await?;
    Ok(WithSecret { endpoint, secret })
}

/// The endpoint's deliveries, newest first.
pub async fn deliveries(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    endpoint_id: &str,
    page: &PageParams,
) -> Result<Page<webhook_deliveries::Model>, Error> {
    let endpoint = get(db, merchant_id, endpoint_id).await?;
    let select = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::EndpointId.eq(&endpoint.id));
    Ok(page::fetch(db, select, webhook_deliveries::Column::Id, page).await?)
}

/// The merchant's delivery, or NotFound (also for another merchant's or a
/// malformed id).
pub async fn delivery(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    delivery_id: &str,
) -> Result<webhook_deliveries::Model, Error> {
    if WebhookDeliveryId::parse(delivery_id).is_err() {
        return Err(Error::not_found("webhook_delivery", delivery_id));
    }
    webhook_deliveries::Entity::find_by_id(delivery_id)
        .filter(webhook_deliveries::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("webhook_delivery", delivery_id))
}

/// Every attempt of the merchant's delivery (newest first, paginated).
/// NotFound for another merchant's or an unknown delivery.
pub async fn attempts(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    delivery_id: &str,
    page: &PageParams,
) -> Result<Page<webhook_delivery_attempts::Model>, Error> {
    let delivery = delivery(db, merchant_id, delivery_id).await?;
    let select = webhook_delivery_attempts::Entity::find()
        .filter(webhook_delivery_attempts::Column::DeliveryId.eq(&delivery.id));
    Ok(page::fetch(db, select, webhook_delivery_attempts::Column::Id, page).await?)
}

/// Sends a delivery again now, with the same `webhook-id`: one more attempt
/// for a failed or succeeded delivery; a pending one is simply brought forward.
pub async fn replay(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    delivery_id: &str,
) -> Result<webhook_deliveries::Model, Error> {
    let delivery = delivery(db, merchant_id, delivery_id).await?;
    let endpoint = get(db, merchant_id, &delivery.endpoint_id).await?;
    if endpoint.status != ENABLED {
        return Err(Error::conflict(
            "endpoint_disabled",
            "the endpoint is disabled: enable it before replaying its deliveries",
        ));
    }
    webhook_deliveries::Entity::update_many()
        .col_expr(
            webhook_deliveries::Column::Status,
            Expr::value(WebhookDeliveryStatus::Pending.as_str()),
        )
        .col_expr(webhook_deliveries::Column::NextAttemptAt, Expr::value(now))
        .col_expr(webhook_deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_deliveries::Column::Id.eq(&delivery.id))
        .exec(db)
        .await?;
    webhook_deliveries::Entity::find_by_id(&delivery.id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("webhook_delivery", delivery_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_events_are_all_or_known_types() {
        assert_eq!(parse_enabled_events(&["*".into()]).unwrap(), json!(["*"]));
        assert_eq!(
            parse_enabled_events(&[
                "invoice.paid".into(),
                "customer.created".into(),
                "invoice.paid".into()
            ])
            .unwrap(),
            json!(["invoice.paid", "customer.created"])
        );
        for (bad, param) in [
            (vec![], "enabled_events"),
            (
                vec!["*".to_owned(), "invoice.paid".to_owned()],
                "enabled_events",
            ),
            (
                vec!["invoice.paid".to_owned(), "invoice.bogus".to_owned()],
                "enabled_events[1]",
            ),
        ] {
            match parse_enabled_events(&bad) {
                Err(Error::Invalid { param: p, .. }) => assert_eq!(p, param),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn filters_match() {
        assert!(wants(&json!(["*"]), "invoice.paid"));
        assert!(wants(&json!(["invoice.paid"]), "invoice.paid"));
        assert!(!wants(&json!(["invoice.paid"]), "invoice.created"));
        assert!(!wants(&json!([]), "invoice.paid"));
    }
}
