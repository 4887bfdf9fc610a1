//! The scheduler role's loop: a billing run at start-up (catching up any
//! downtime) and then on every tick of the configured cron schedule.

use std::str::FromStr;

use tokio_util::sync::CancellationToken;

use super::engine;
use crate::context::Context;
use crate::store;

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

/// One billing run at the clock's current time. Errors are logged and the
/// run is retried at the next tick: every batch is its own transaction, so
/// nothing is half done.
pub async fn tick(state: &Context) {
    if let Some(test_clock) = &state.test_clock {
        // Another process may have advanced the shared sandbox clock.
        match store::sandbox_clock::load(&state.db).await {
            Ok(Some(saved)) => {
                let _ = test_clock.set(saved);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler: cannot read the sandbox clock"),
        }
    }
    let now = state.clock.now();
    let batch = u64::from(state.settings.scheduler.batch_size);
    let workers = state.settings.scheduler.workers;
    match engine::run_due_concurrently(&state.db, now, batch, workers).await {
        Ok(outcome) if outcome != engine::RunOutcome::default() => {
            tracing::info!(
                periods_rolled = outcome.periods_rolled,
                dunning_steps = outcome.dunning_steps,
                "billing run"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "billing run failed; retrying at the next tick"),
    }
}
