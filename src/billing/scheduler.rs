//! The scheduler role's loop: a billing run at start-up (catching up any
//! downtime) and then on every tick of the configured cron schedule.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::engine::{self, Scope};
use crate::context::Context;

pub async fn run(state: Context, shutdown: CancellationToken) {
    let schedule = match cron::Schedule::from_str(&state.settings.scheduler.tick) {
        Ok(s) => s,
        Err(e) => {
            // Settings validation rejects a bad tick, so this is unreachable in practice.
            tracing::error!(error = %e, "scheduler: bad tick schedule, not running");
            return;
        }
    };
    loop {
        tick(&state).await;
        let Some(next) = schedule.upcoming(chrono::Utc).next() else {
            return;
        };
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One billing run at the clocks' current time: with one clock, one run for
/// every merchant; in the sandbox, one run per merchant at that merchant's
/// own time. Errors are logged and the run is retried at the next tick:
/// every batch is its own transaction, so nothing is half done.
pub async fn tick(state: &Context) {
    // Another process may have advanced the shared sandbox clock.
    if let Err(e) = state.clocks.catch_up(&state.db).await {
        tracing::warn!(error = %e, "scheduler: cannot read the sandbox clock");
    }
    match state.clocks.merchant_times(&state.db).await {
        Ok(None) => bill(state, state.clocks.now(), &Scope::All).await,
        Ok(Some(merchants)) => {
            for (merchant, now) in merchants {
                bill(state, now, &Scope::Merchant(merchant)).await;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "scheduler: cannot read the merchants' clocks; retrying at the next tick")
        }
    }
    if let Err(e) = crate::catalog::metrics::compact(&state.db).await {
        tracing::warn!(error = %e, "scheduler: cannot fold the overview's counters; retrying at the next tick");
    }
}

/// One billing run of `scope` at `now`, logged.
pub async fn bill(state: &Context, now: DateTime<Utc>, scope: &Scope) {
    let batch = u64::from(state.settings.scheduler.batch_size);
    let workers = state.settings.scheduler.workers;
    let merchant = match scope {
        Scope::All => None,
        Scope::Merchant(id) => Some(id.as_str()),
    };
    match engine::run_due_concurrently(&state.db, now, batch, workers, scope).await {
        Ok(outcome) if outcome != engine::RunOutcome::default() => {
            tracing::info!(
                merchant,
                periods_rolled = outcome.periods_rolled,
                dunning_steps = outcome.dunning_steps,
                "billing run"
            );
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(merchant, error = %e, "billing run failed; retrying at the next tick")
        }
    }
}
