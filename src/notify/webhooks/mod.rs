//! Signed webhooks (Standard Webhooks): the outbox fan-out from `events`, the
//! delivery worker with retries (behind `crate::ssrf`, the SSRF guard), and
//! the endpoint service the API calls. See docs/webhooks.md.

pub mod delivery;
pub mod endpoints;
pub mod fanout;
pub mod inspector;
pub mod retry;
pub mod signing;

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::DbErr;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use delivery::{Claimed, Sender};

/// Events fanned out per transaction.
const FAN_OUT_BATCH: u64 = 200;

/// What one [`drain`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub dispatched: usize,
    pub attempts: usize,
}

/// Fans out every waiting event and sends every delivery due at the clock's
/// time, round after round (one message per endpoint per round), until
/// nothing is due. Waits for every answer: for tests and tools; the worker
/// role runs [`run`].
pub async fn drain(state: &Context, sender: &Sender) -> Result<Drained, DbErr> {
    let mut done = Drained::default();
    let email = crate::notify::email::from_events::Queueing::from_settings(&state.settings);
    loop {
        let now = state.clocks.now();
        loop {
            let n = fanout::fan_out(&state.db, now, FAN_OUT_BATCH, email.as_ref()).await?;
            done.dispatched += n;
            if n == 0 {
                break;
            }
        }
        let limit = state.settings.webhooks.concurrency as usize;
        let claimed = delivery::claim_due(
            &state.db,
            now,
            Utc::now(),
            sender.lease(),
            limit,
            &HashSet::new(),
        )
        .await?;
        if claimed.is_empty() {
            return Ok(done);
        }
        done.attempts += claimed.len();
        let sends = claimed.iter().map(|c| deliver(state, sender, c));
        for result in futures::future::join_all(sends).await {
            result?;
        }
    }
}

/// Sends one claimed delivery and records the outcome.
async fn deliver(state: &Context, sender: &Sender, claimed: &Claimed) -> Result<(), DbErr> {
    let attempt = sender.send(claimed, state.clocks.now()).await;
    if !attempt.succeeded() {
        tracing::info!(
            delivery = %claimed.delivery.id,
            endpoint = %claimed.endpoint.id,
            status = attempt.status,
            error = attempt.error.as_deref().unwrap_or_default(),
            "webhook delivery failed"
        );
    }
    delivery::record(
        &state.db,
        state.clocks.now(),
        &state.settings.webhooks.retry_schedule_secs,
        claimed,
        &attempt,
    )
    .await
}

/// The webhook loop of the worker role: fans out new events and keeps up to
/// `webhooks.concurrency` deliveries in flight, at most one per endpoint, so
/// a slow endpoint holds up only its own messages. Runs until `shutdown`;
/// deliveries cut off then are sent again once their lease runs out.
pub async fn run(state: Context, shutdown: CancellationToken) {
    let sender = match Sender::new(&state.settings) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the HTTP client, not running");
            return;
        }
    };
    let poll = std::time::Duration::from_millis(state.settings.webhooks.poll_interval_ms);
    let concurrency = state.settings.webhooks.concurrency as usize;
    let mut in_flight: JoinSet<()> = JoinSet::new();
    // Endpoints with a message in flight, by the task sending it.
    let mut busy_tasks: HashMap<tokio::task::Id, String> = HashMap::new();
    loop {
        super::sync_test_clock(&state).await;
        let now = state.clocks.now();
        if let Err(e) = fan_out_all(&state, now).await {
            tracing::error!(error = %e, "webhooks: fan-out failed; retrying");
        }
        let free = concurrency.saturating_sub(in_flight.len());
        let busy: HashSet<String> = busy_tasks.values().cloned().collect();
        match delivery::claim_due(&state.db, now, Utc::now(), sender.lease(), free, &busy).await {
            Ok(claimed) => {
                for c in claimed {
                    let endpoint = c.endpoint.id.clone();
                    let (state, sender) = (state.clone(), sender.clone());
                    let task = in_flight.spawn(async move {
                        if let Err(e) = deliver(&state, &sender, &c).await {
                            tracing::error!(error = %e, delivery = %c.delivery.id, "webhooks: cannot record an attempt");
                        }
                    });
                    busy_tasks.insert(task.id(), endpoint);
                }
            }
            Err(e) => tracing::error!(error = %e, "webhooks: claiming deliveries failed; retrying"),
        }
        // Wait for a send to finish (a slot and its endpoint free up), the
        // next poll, or shutdown.
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                busy_tasks.remove(&id);
            }
            _ = tokio::time::sleep(poll) => {}
        }
    }
    in_flight.abort_all();
}

/// Fans out every waiting event (queueing their emails when SMTP is configured).
pub(crate) async fn fan_out_all(state: &Context, now: chrono::DateTime<Utc>) -> Result<(), DbErr> {
    let email = crate::notify::email::from_events::Queueing::from_settings(&state.settings);
    while fanout::fan_out(&state.db, now, FAN_OUT_BATCH, email.as_ref()).await? > 0 {}
    Ok(())
}
