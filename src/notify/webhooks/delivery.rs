//! Sending deliveries: claim the due ones (at most one in flight per
//! endpoint), POST each signed message, record what the endpoint answered,
//! and schedule the retry or give up.
//!
//! A claimed delivery is leased for the timeout plus a margin of wall-clock
//! time (`locked_until`): if the worker dies mid-send, the lease runs out and
//! another worker (or the restarted one) sends it again. Receivers must
//! therefore expect a message more than once; `webhook-id` tells repeats apart.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use serde_json::Value;

use super::endpoints::{DISABLED, ENABLED};
use super::retry;
use super::signing::{Secret, signature_header};
use crate::auth::api_keys::Mode;
use crate::config::Settings;
use crate::domain::ids::WebhookAttemptId;
use crate::domain::{Backoff, EventType, WebhookDeliveryStatus, text};
use crate::objects;
use crate::ssrf::{self, GuardedResolver, Policy};
use crate::store::events::EventBatch;
use crate::store::queue;
use crate::store::{
    self, events, webhook_deliveries, webhook_delivery_attempts, webhook_endpoints,
};

/// Bytes of an endpoint's answer kept for the merchant to read.
pub const EXCERPT_BYTES: usize = 1024;
/// Bytes of an attempt's error kept.
const ERROR_BYTES: usize = 1024;
/// An endpoint failing for this long without a single success is disabled.
pub const DISABLE_AFTER_DAYS: i64 = 5;
/// Lease on a claimed delivery beyond the HTTP timeout.
const LEASE_MARGIN_SECS: i64 = 10;

/// A delivery claimed for sending, with what it needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: webhook_deliveries::Model,
    pub endpoint: webhook_endpoints::Model,
    pub event: events::Model,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The HTTP status, when the endpoint answered.
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub excerpt: Option<String>,
    pub error: Option<String>,
    pub retry_after: Option<Duration>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// The message body: `{"type", "timestamp", "livemode", "data"}`.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    timestamp: DateTime<Utc>,
    livemode: bool,
    data: Value,
}

/// `livemode` is the deployment's (`Mode::is_live`); the data object carries
/// it too, as the API's events do ([`objects::with_livemode`]).
pub fn body(event: &events::Model, livemode: bool) -> Vec<u8> {
    serde_json::to_vec(&Body {
        event_type: &event.event_type,
        timestamp: event.created_at,
        livemode,
        data: objects::with_livemode(&event.data, livemode),
    })
    .unwrap_or_default()
}

/// The secrets that sign a message at `now`: the current one, and the
/// previous one while its rotation overlap lasts.
pub fn signing_secrets(endpoint: &webhook_endpoints::Model, now: DateTime<Utc>) -> Vec<Secret> {
    let mut secrets: Vec<Secret> = Secret::parse(&endpoint.secret).into_iter().collect();
    if let (Some(previous), Some(until)) = (
        &endpoint.previous_secret,
        endpoint.previous_secret_expires_at,
    ) && now < until
        && let Ok(previous) = Secret::parse(previous)
    {
        secrets.push(previous);
    }
    secrets
}

/// The HTTP side: one client, whose resolver refuses internal addresses.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: Policy,
    timeout: std::time::Duration,
    livemode: bool,
}

impl Sender {
    pub fn new(settings: &Settings) -> Result<Self, reqwest::Error> {
        let policy = super::endpoints::policy(settings);
        let timeout = std::time::Duration::from_secs(settings.webhooks.timeout_secs);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("pushbill-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(std::sync::Arc::new(GuardedResolver { policy }))
            .build()?;
        Ok(Self {
            client,
            policy,
            timeout,
            livemode: Mode::for_network(settings.app.network).is_live(),
        })
    }

    /// How long a claim is leased (wall-clock time).
    pub fn lease(&self) -> Duration {
        Duration::seconds(self.timeout.as_secs() as i64 + LEASE_MARGIN_SECS)
    }

    /// POSTs the message. `now` (the service's clock) picks the signing
    /// secrets; `webhook-timestamp` is wall-clock time, as receivers check it.
    pub async fn send(&self, claimed: &Claimed, now: DateTime<Utc>) -> Attempt {
        let started = Instant::now();
        let failed = |error: String| Attempt {
            status: None,
            latency_ms: started.elapsed().as_millis() as i64,
            excerpt: None,
            error: Some(text::excerpt(error.as_bytes(), ERROR_BYTES)),
            retry_after: None,
        };
        // The resolver guards host names; an address in the URL is checked here.
        let url = match url::Url::parse(&claimed.endpoint.url) {
            Ok(url) => url,
            Err(e) => return failed(format!("bad url: {e}")),
        };
        if !matches!(url.host(), Some(url::Host::Domain(_)))
            && let Err(e) = ssrf::resolve(&url, self.policy).await
        {
            return failed(format!("refused: {e}"));
        }
        let id = &claimed.event.id;
        let timestamp = Utc::now().timestamp();
        let body = body(&claimed.event, self.livemode);
        let secrets = signing_secrets(&claimed.endpoint, now);
        let signature = signature_header(&secrets, id, timestamp, &body);
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(e)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, Utc::now()));
        let mut excerpt = Vec::new();
        let mut error = None;
        while excerpt.len() < EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    error = Some(text::excerpt(describe(e).as_bytes(), ERROR_BYTES));
                    break;
                }
            }
        }
        Attempt {
            status: Some(status),
            latency_ms: started.elapsed().as_millis() as i64,
            // Any bytes at all (gzip, binary): made storable.
            excerpt: Some(text::excerpt(&excerpt, EXCERPT_BYTES)),
            error: error.or_else(|| {
                (!(200..300).contains(&status)).then(|| format!("endpoint answered {status}"))
            }),
            retry_after,
        }
    }
}

/// A reqwest error with its causes, e.g. "error sending request: refused: 10.0.0.1 is not a public address".
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Claims up to `limit` due deliveries, at most one per endpoint and none for
/// an endpoint in `busy` or with a delivery in flight elsewhere. `now` is the
/// service's clock (what is due), `wall` real time (leases).
pub async fn claim_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
    lease: Duration,
    limit: usize,
    busy: &HashSet<String>,
) -> Result<Vec<Claimed>, DbErr> {
    use webhook_deliveries::Column as D;
    if limit == 0 {
        return Ok(Vec::new());
    }
    let due = webhook_deliveries::Entity::find()
        .filter(D::Status.eq(WebhookDeliveryStatus::Pending.as_str()))
        .filter(D::NextAttemptAt.lte(now));
    if !queue::any_due(due, db).await? {
        return Ok(Vec::new());
    }
    let txn = store::begin_write(db).await?;
    let enabled = Query::select()
        .column(webhook_endpoints::Column::Id)
        .from(webhook_endpoints::Entity)
        .and_where(Expr::col(webhook_endpoints::Column::Status).eq(ENABLED))
        .to_owned();
    // The oldest due delivery of each endpoint not busy here. An endpoint
    // with a long backlog must not hide the others: look again past the
    // endpoints already taken, a few pages at most.
    let page = (limit * 4) as u64;
    let mut taken: HashSet<String> = busy.clone();
    let mut firsts: Vec<webhook_deliveries::Model> = Vec::new();
    for _ in 0..4 {
        let in_flight = Query::select()
            .column(D::EndpointId)
            .from(webhook_deliveries::Entity)
            .and_where(Expr::col(D::LockedUntil).gte(wall))
            .to_owned();
        let candidates = queue::claim(
            webhook_deliveries::Entity::find()
                .filter(D::Status.eq(WebhookDeliveryStatus::Pending.as_str()))
                .filter(D::NextAttemptAt.lte(now))
                .filter(queue::not_leased(D::LockedUntil, wall))
                .filter(D::EndpointId.in_subquery(enabled.clone()))
                .filter(D::EndpointId.not_in_subquery(in_flight))
                .filter(D::EndpointId.is_not_in(taken.iter().map(String::as_str)))
                .order_by_asc(D::NextAttemptAt)
                .order_by_asc(D::Id)
                .limit(page),
            &txn,
        )
        .await?;
        let full = candidates.len() as u64 == page;
        firsts.extend(
            candidates
                .into_iter()
                .filter(|d| taken.insert(d.endpoint_id.clone())),
        );
        if !full || firsts.len() >= limit || taken.len() > store::IDS_PER_QUERY {
            break;
        }
    }
    if firsts.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    // Lock those endpoints (skipping ones another worker is claiming for),
    // then look again for a lease taken since the first query: with the
    // endpoint locked, that look sees every committed claim, so an endpoint
    // never has two messages in flight, even across processes.
    let endpoint_ids: Vec<&str> = firsts.iter().map(|d| d.endpoint_id.as_str()).collect();
    let endpoints = queue::claim(
        webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::Id.is_in(endpoint_ids.iter().copied()))
            .filter(webhook_endpoints::Column::Status.eq(ENABLED)),
        &txn,
    )
    .await?;
    let leased: Vec<String> = webhook_deliveries::Entity::find()
        .select_only()
        .column(D::EndpointId)
        .filter(D::EndpointId.is_in(endpoint_ids.iter().copied()))
        .filter(D::LockedUntil.gte(wall))
        .into_tuple()
        .all(&txn)
        .await?;
    let chosen: Vec<webhook_deliveries::Model> = firsts
        .into_iter()
        .filter(|d| {
            endpoints.iter().any(|e| e.id == d.endpoint_id) && !leased.contains(&d.endpoint_id)
        })
        .take(limit)
        .collect();
    if chosen.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let chosen = queue::lease(
        chosen,
        queue::Lease {
            column: D::LockedUntil,
            until: wall + lease,
        },
        &txn,
    )
    .await?;
    let event_ids: Vec<&str> = chosen.iter().map(|d| d.event_id.as_str()).collect();
    let events = events::Entity::find()
        .filter(events::Column::Id.is_in(event_ids.iter().copied()))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(chosen
        .into_iter()
        .filter_map(|delivery| {
            let endpoint = endpoints
                .iter()
                .find(|e| e.id == delivery.endpoint_id)?
                .clone();
            let event = events.iter().find(|e| e.id == delivery.event_id)?.clone();
            Some(Claimed {
                delivery,
                endpoint,
                event,
            })
        })
        .collect())
}

/// Writes an attempt's outcome: the delivery's new state, and the endpoint's
/// health (a 410 or five days of failures disable it). An attempt that
/// cannot be written whole (something in what the endpoint answered) is
/// written without its excerpt and error, so that it still counts: the
/// delivery backs off and eventually fails instead of being resent every
/// lease, holding up its endpoint. `schedule` is `webhooks.retry_schedule_secs`
/// (see [`retry::backoff`]).
pub async fn record(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    schedule: &[u64],
    claimed: &Claimed,
    attempt: &Attempt,
) -> Result<(), DbErr> {
    let backoff = &retry::backoff(schedule);
    let Err(e) = write(db, now, backoff, claimed, attempt).await else {
        return Ok(());
    };
    tracing::warn!(error = %e, delivery = %claimed.delivery.id, "webhooks: cannot record the attempt whole; recording it without its excerpt");
    let bare = Attempt {
        excerpt: None,
        error: Some("the attempt's details could not be recorded".to_owned()),
        ..attempt.clone()
    };
    write(db, now, backoff, claimed, &bare).await
}

async fn write(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    backoff: &Backoff,
    claimed: &Claimed,
    attempt: &Attempt,
) -> Result<(), DbErr> {
    let attempts = claimed.delivery.attempt_count + 1;
    let gone = attempt.status == Some(410);
    use WebhookDeliveryStatus as S;
    let (status, next) = if attempt.succeeded() {
        (S::Succeeded, None)
    } else if gone {
        (S::Failed, None)
    } else {
        match retry::next_delay(backoff, attempts as u32, attempt.retry_after) {
            Some(d) => (S::Pending, Some(now + d)),
            None => (S::Failed, None),
        }
    };
    let txn = store::begin_write(db).await?;
    let Some(endpoint) = webhook_endpoints::Entity::find_by_id(&claimed.endpoint.id)
        .one(&txn)
        .await?
    else {
        // Deleted while the message was in flight: nothing left to record.
        txn.commit().await?;
        return Ok(());
    };
    webhook_delivery_attempts::Entity::insert(webhook_delivery_attempts::ActiveModel {
        id: Set(WebhookAttemptId::new().to_string()),
        merchant_id: Set(claimed.delivery.merchant_id.clone()),
        delivery_id: Set(claimed.delivery.id.clone()),
        endpoint_id: Set(claimed.endpoint.id.clone()),
        attempt_number: Set(attempts),
        attempted_at: Set(now),
        status_code: Set(attempt.status.map(i32::from)),
        latency_ms: Set(attempt.latency_ms),
        response_excerpt: Set(attempt.excerpt.clone()),
        error: Set(attempt.error.clone()),
        outcome: Set(status.as_str().to_owned()),
        created_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    webhook_deliveries::ActiveModel {
        id: Set(claimed.delivery.id.clone()),
        status: Set(status.as_str().to_owned()),
        attempt_count: Set(attempts),
        next_attempt_at: Set(next),
        last_attempt_at: Set(Some(now)),
        last_status_code: Set(attempt.status.map(i32::from)),
        last_latency_ms: Set(Some(attempt.latency_ms)),
        last_response_excerpt: Set(attempt.excerpt.clone()),
        last_error: Set(attempt.error.clone()),
        locked_until: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    if attempt.succeeded() {
        if endpoint.failing_since.is_some() {
            let mut row: webhook_endpoints::ActiveModel = endpoint.into();
            row.failing_since = Set(None);
            row.update(&txn).await?;
        }
    } else if endpoint.status == ENABLED {
        let failing_since = endpoint.failing_since.unwrap_or(now);
        let reason = if gone {
            Some("the endpoint answered 410 Gone")
        } else if now - failing_since >= Duration::days(DISABLE_AFTER_DAYS) {
            Some("the endpoint failed every delivery for 5 days")
        } else {
            None
        };
        let mut row: webhook_endpoints::ActiveModel = endpoint.into();
        row.failing_since = Set(Some(failing_since));
        if let Some(reason) = reason {
            row.status = Set(DISABLED.to_owned());
            row.disabled_reason = Set(Some(reason.to_owned()));
            row.updated_at = Set(now);
        }
        let endpoint = row.update(&txn).await?;
        if reason.is_some() {
            endpoint_disabled(&txn, now, &endpoint).await?;
        }
    }
    txn.commit().await
}

/// An endpoint was disabled by the worker. Records a
/// `webhook_endpoint.disabled` event, which the merchant's other endpoints
/// hear about and from which the email loop (to come) tells the merchant.
async fn endpoint_disabled(
    txn: &impl sea_orm::ConnectionTrait,
    now: DateTime<Utc>,
    endpoint: &webhook_endpoints::Model,
) -> Result<(), DbErr> {
    tracing::warn!(
        endpoint = %endpoint.id,
        merchant = %endpoint.merchant_id,
        reason = endpoint.disabled_reason.as_deref().unwrap_or_default(),
        "webhook endpoint disabled"
    );
    let mut batch = EventBatch::new();
    batch.push(
        &endpoint.merchant_id,
        EventType::WebhookEndpointDisabled,
        "webhook_endpoint",
        &endpoint.id,
        objects::WebhookEndpoint::from(endpoint),
        now,
    );
    batch.insert(txn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(previous: Option<(&str, DateTime<Utc>)>) -> webhook_endpoints::Model {
        let now = Utc::now();
        webhook_endpoints::Model {
            id: "we_1".into(),
            merchant_id: "mer_1".into(),
            url: "https://example.com/".into(),
            description: None,
            event_types: serde_json::json!(["*"]),
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            previous_secret: previous.map(|p| p.0.to_owned()),
            previous_secret_expires_at: previous.map(|p| p.1),
            status: ENABLED.into(),
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_previous_secret_signs_until_it_expires() {
        let now: DateTime<Utc> = "2027-12-01T00:00:00Z".parse().unwrap();
        let old = Secret::generate();
        let e = endpoint(Some((&old.expose(), now + Duration::hours(1))));
        let secrets = signing_secrets(&e, now);
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets[1], old);
        assert_eq!(signing_secrets(&e, now + Duration::hours(1)).len(), 1);
        assert_eq!(signing_secrets(&endpoint(None), now).len(), 1);
    }

    #[test]
    fn the_body_is_type_timestamp_and_data() {
        let event = events::Model {
            id: "evt_1".into(),
            merchant_id: "mer_1".into(),
            event_type: "invoice.paid".into(),
            object_type: "invoice".into(),
            object_id: "inv_1".into(),
            data: serde_json::json!({"id": "inv_1", "object": "invoice"}),
            created_at: "2027-12-01T00:00:00Z".parse().unwrap(),
            dispatched_at: None,
        };
        assert_eq!(
            String::from_utf8(body(&event, false)).unwrap(),
            r#"{"type":"invoice.paid","timestamp":"2027-12-01T00:00:00Z","livemode":false,"data":{"id":"inv_1","livemode":false,"object":"invoice"}}"#
        );
        let live: Value = serde_json::from_slice(&body(&event, true)).unwrap();
        assert_eq!(live["livemode"], true);
        assert_eq!(live["data"]["livemode"], true);
    }
}
