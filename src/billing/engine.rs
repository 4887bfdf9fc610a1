//! One billing run: apply everything that has come due, in order, until
//! nothing is left. Safe to run in several processes at once (PostgreSQL) and
//! safe to kill at any point: each batch is one transaction.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

pub use super::scope::Scope;
use super::{dunning, periods, trials};
use crate::error::Result;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    pub periods_rolled: usize,
    pub dunning_steps: usize,
    pub trial_notices: usize,
}

/// [`run_due`] with `workers` loops at once, each its own task on its own
/// connection: on PostgreSQL they claim disjoint rows (`SKIP LOCKED`) and
/// overlap their round trips, on as many threads as the runtime has. The
/// outcomes add up.
pub async fn run_due_concurrently(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    batch: u64,
    workers: u32,
    scope: &Scope,
) -> Result<RunOutcome> {
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let db = db.clone();
        let scope = scope.clone();
        runs.spawn(async move { run_due(&db, now, batch, &scope).await });
    }
    let mut total = RunOutcome::default();
    while let Some(joined) = runs.join_next().await {
        // A worker that panicked passes its panic on; none is ever aborted.
        let outcome = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        total.periods_rolled += outcome.periods_rolled;
        total.dunning_steps += outcome.dunning_steps;
        total.trial_notices += outcome.trial_notices;
    }
    Ok(total)
}

/// Catches up to `now`: rolls every ended period and runs every due dunning
/// step of the subscriptions and invoices in `scope`. A subscription that
/// missed several periods is billed once for each, oldest first; nothing
/// after `now` is billed.
pub async fn run_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    batch: u64,
    scope: &Scope,
) -> Result<RunOutcome> {
    let mut outcome = RunOutcome::default();
    let mut after = None;
    loop {
        // Notices first: a trial's notice comes before its end, also when a
        // long downtime is caught up.
        let noticed = trials::notify_due(db, now, batch, scope).await?;
        let pass = periods::roll_due(db, now, batch, after.as_ref(), scope).await?;
        let dunned = dunning::run_due(db, now, batch, scope).await?;
        outcome.periods_rolled += pass.rolled;
        outcome.dunning_steps += dunned;
        outcome.trial_notices += noticed;
        match pass.last {
            // Carry on along the queue.
            Some(key) => after = Some(key),
            // End of the queue: go round once more from the start, for rows
            // rolled into a period that is still due, or unblocked by dunning.
            None if after.is_some() => after = None,
            // A whole pass from the start found nothing, and dunning is done.
            None if dunned == 0 && noticed == 0 => return Ok(outcome),
            None => {}
        }
    }
}
