//! The outbox fan-out: every event not yet dispatched becomes one delivery per
//! enabled endpoint of its merchant that wants its type, and is marked
//! dispatched, all in one transaction; the same transaction queues the
//! emails the events send (when SMTP is configured). Events are taken oldest
//! first; on PostgreSQL with `SKIP LOCKED`, so several workers share the queue.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::endpoints::{ENABLED, wants};
use crate::domain::WebhookDeliveryStatus;
use crate::domain::ids::WebhookDeliveryId;
use crate::store::queue;
use crate::store::{self, events, webhook_deliveries, webhook_endpoints};

/// Fans out up to `batch` events; returns how many were dispatched. With
/// `email`, also queues their emails.
pub async fn fan_out(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    batch: u64,
    email: Option<&crate::notify::email::from_events::Queueing>,
) -> Result<usize, DbErr> {
    // A plain read first: an idle worker does not take the write lock.
    let waiting = events::Entity::find()
        .filter(events::Column::DispatchedAt.is_null())
        .one(db)
        .await?;
    if waiting.is_none() {
        return Ok(0);
    }
    let txn = store::begin_write(db).await?;
    let claimed = queue::claim(
        events::Entity::find()
            .filter(events::Column::DispatchedAt.is_null())
            .order_by_asc(events::Column::Id)
            .limit(batch),
        &txn,
    )
    .await?;
    if claimed.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let mut merchants: Vec<&str> = claimed.iter().map(|e| e.merchant_id.as_str()).collect();
    merchants.sort_unstable();
    merchants.dedup();
    let mut endpoints: HashMap<String, Vec<webhook_endpoints::Model>> = HashMap::new();
    for chunk in merchants.chunks(store::IDS_PER_QUERY) {
        for endpoint in webhook_endpoints::Entity::find()
            .filter(webhook_endpoints::Column::MerchantId.is_in(chunk.iter().copied()))
            .filter(webhook_endpoints::Column::Status.eq(ENABLED))
            .order_by_asc(webhook_endpoints::Column::Id)
            .all(&txn)
            .await?
        {
            endpoints
                .entry(endpoint.merchant_id.clone())
                .or_default()
                .push(endpoint);
        }
    }
    let mut rows = Vec::new();
    for event in &claimed {
        for endpoint in endpoints.get(&event.merchant_id).into_iter().flatten() {
            // An endpoint hears about what happens after it was created.
            if endpoint.created_at <= event.created_at
                && wants(&endpoint.event_types, &event.event_type)
            {
                rows.push(webhook_deliveries::ActiveModel {
                    id: Set(WebhookDeliveryId::new().to_string()),
                    merchant_id: Set(event.merchant_id.clone()),
                    endpoint_id: Set(endpoint.id.clone()),
                    event_id: Set(event.id.clone()),
                    status: Set(WebhookDeliveryStatus::Pending.as_str().to_owned()),
                    attempt_count: Set(0),
                    next_attempt_at: Set(Some(now)),
                    last_attempt_at: Set(None),
                    last_status_code: Set(None),
                    last_latency_ms: Set(None),
                    last_response_excerpt: Set(None),
                    last_error: Set(None),
                    locked_until: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
            }
        }
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(store::ROWS_PER_STATEMENT).collect();
        webhook_deliveries::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([
                    webhook_deliveries::Column::EndpointId,
                    webhook_deliveries::Column::EventId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    if let Some(ctx) = email {
        crate::notify::email::from_events::enqueue(&txn, now, ctx, &claimed).await?;
    }
    let ids: Vec<&str> = claimed.iter().map(|e| e.id.as_str()).collect();
    for chunk in ids.chunks(store::IDS_PER_QUERY) {
        events::Entity::update_many()
            .col_expr(events::Column::DispatchedAt, Expr::value(now))
            .filter(events::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(claimed.len())
}
