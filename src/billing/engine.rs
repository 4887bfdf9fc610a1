//! One billing run: apply everything that has come due, in order, until
//! nothing is left. Safe to run in several processes at once (PostgreSQL) and
//! safe to kill at any point: each batch is one transaction.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::{dunning, periods};
use crate::error::Result;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    pub periods_rolled: usize,
    pub dunning_steps: usize,
}

/// Catches up to `now`: rolls every ended period and runs every due dunning
/// step. A subscription that missed several periods is billed once for each,
/// oldest first; nothing after `now` is billed.
pub async fn run_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<RunOutcome> {
    let mut outcome = RunOutcome::default();
    loop {
        let rolled = periods::roll_due(db, now, batch).await?;
        let dunned = dunning::run_due(db, now, batch).await?;
        outcome.periods_rolled += rolled;
        outcome.dunning_steps += dunned;
        if rolled == 0 && dunned == 0 {
            return Ok(outcome);
        }
    }
}
