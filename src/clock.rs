//! Where time comes from. Everything that reads the time takes a [`Clock`], so
//! tests and the sandbox can move time forward and watch a month of billing in
//! seconds. [`Clocks`] says whose time: the deployment's, or a merchant's
//! billing time (which differ only in the sandbox).

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryOrder, QuerySelect};

use crate::store::{self, merchants, sandbox_clock};

pub trait Clock: Send + Sync + Debug {
    /// The current time, truncated to milliseconds (what the database keeps).
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }
}

/// A clock that stands still until it is set or advanced.
#[derive(Debug)]
pub struct TestClock {
    now: Mutex<DateTime<Utc>>,
}

impl TestClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start.trunc_subsecs(3)),
        }
    }

    /// Moves the clock forward by `by` and returns the new time. Time never runs
    /// backwards: a negative duration is an error.
    pub fn advance(&self, by: chrono::Duration) -> Result<DateTime<Utc>, ClockError> {
        if by < chrono::Duration::zero() {
            return Err(ClockError::Backwards);
        }
        let mut now = self.lock();
        *now = now.checked_add_signed(by).ok_or(ClockError::OutOfRange)?;
        Ok(*now)
    }

    /// Sets the clock to `to`, which must not be before the current time.
    pub fn set(&self, to: DateTime<Utc>) -> Result<DateTime<Utc>, ClockError> {
        let mut now = self.lock();
        let to = to.trunc_subsecs(3);
        if to < *now {
            return Err(ClockError::Backwards);
        }
        *now = to;
        Ok(to)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // A poisoned lock still holds a valid timestamp.
        self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("the test clock cannot move backwards")]
    Backwards,
    #[error("the test clock cannot move that far")]
    OutOfRange,
    #[error("there is no test clock to move")]
    NotTest,
}

/// Whose time it is (docs/billing.md, "Time").
///
/// In production one clock tells everyone's time. The sandbox has two kinds
/// of time. Billing time is each merchant's own test clock (a row of
/// `sandbox_clock` with the merchant's id), which only that merchant moves:
/// periods, due dates, dunning, trials and the times of billing objects
/// follow it. The deployment's time (the `default` row, and the in-process
/// [`TestClock`]) drives delivery: webhook, email and push leases and
/// back-off, BOLT11 timestamps, work queues. It is kept at or after every
/// merchant's time, so nothing billing queued at a merchant's time waits in
/// the future for the workers.
#[derive(Clone, Debug)]
pub enum Clocks {
    /// One clock for the deployment and every merchant (production: the
    /// system clock). Nothing is read from the database.
    One(SharedClock),
    /// The sandbox: the deployment's test clock, and a clock per merchant.
    Sandbox(Arc<TestClock>),
}

impl Clocks {
    /// The deployment's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.deployment().now()
    }

    /// The deployment's clock, for the loops that take one.
    pub fn deployment(&self) -> SharedClock {
        match self {
            Clocks::One(clock) => Arc::clone(clock),
            Clocks::Sandbox(test) => Arc::clone(test) as SharedClock,
        }
    }

    /// The sandbox's test clock (the deployment's), when there is one.
    pub fn test_clock(&self) -> Option<&Arc<TestClock>> {
        match self {
            Clocks::One(_) => None,
            Clocks::Sandbox(test) => Some(test),
        }
    }

    /// The billing time of `merchant_id`. A merchant's sandbox clock starts
    /// at the deployment's time the first time it is read, and from then on
    /// moves only when the merchant moves it ([`Clocks::advance_merchant`]).
    pub async fn now_for(
        &self,
        db: &impl ConnectionTrait,
        merchant_id: &str,
    ) -> Result<DateTime<Utc>, DbErr> {
        match self {
            Clocks::One(clock) => Ok(clock.now()),
            Clocks::Sandbox(test) => {
                sandbox_clock::load_or_start(db, merchant_id, test.now()).await
            }
        }
    }

    /// Every merchant with its billing time, in id order (starting
    /// the clocks of those that have none); `None` with one clock, where
    /// every merchant's time is [`Clocks::now`].
    pub async fn merchant_times(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<Option<Vec<(String, DateTime<Utc>)>>, DbErr> {
        let Clocks::Sandbox(test) = self else {
            return Ok(None);
        };
        let ids: Vec<String> = merchants::Entity::find()
            .order_by_asc(merchants::Column::Id)
            .select_only()
            .column(merchants::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        let saved: std::collections::HashMap<String, DateTime<Utc>> = sandbox_clock::all(db)
            .await?
            .into_iter()
            .map(|row| (row.id, row.now))
            .collect();
        let mut times = Vec::with_capacity(ids.len());
        for id in ids {
            let now = match saved.get(&id) {
                Some(now) => *now,
                None => sandbox_clock::load_or_start(db, &id, test.now()).await?,
            };
            times.push((id, now));
        }
        Ok(Some(times))
    }

    /// Moves `merchant_id`'s clock to `to`, and the deployment's to `to` if
    /// it is behind, in one transaction; returns the merchant's new time.
    /// Sandbox only; never backwards (checked under the row's lock, so two
    /// concurrent moves cannot undo each other).
    pub async fn advance_merchant(
        &self,
        db: &DatabaseConnection,
        merchant_id: &str,
        to: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, AdvanceError> {
        let Clocks::Sandbox(test) = self else {
            return Err(ClockError::NotTest.into());
        };
        let to = to.trunc_subsecs(3);
        let txn = store::begin_write(db).await?;
        sandbox_clock::load_or_start(&txn, merchant_id, test.now()).await?;
        let now = sandbox_clock::lock(&txn, merchant_id)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("sandbox clock {merchant_id}")))?;
        if to < now {
            return Err(ClockError::Backwards.into());
        }
        sandbox_clock::save(&txn, merchant_id, to).await?;
        let saved = sandbox_clock::lock(&txn, sandbox_clock::DEPLOYMENT).await?;
        let deployment = saved
            .into_iter()
            .chain([test.now(), to])
            .max()
            .unwrap_or(to);
        sandbox_clock::save(&txn, sandbox_clock::DEPLOYMENT, deployment).await?;
        txn.commit().await?;
        // Never backwards: another move in this process may have gone further.
        let _ = test.set(deployment);
        Ok(to)
    }

    /// The deployment's test clock catches up with the database, where
    /// another process may have moved it. Nothing to do with one clock.
    pub async fn catch_up(&self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        if let Clocks::Sandbox(test) = self
            && let Some(saved) = sandbox_clock::load(db, sandbox_clock::DEPLOYMENT).await?
        {
            // A clock already ahead stays where it is.
            let _ = test.set(saved);
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    #[error(transparent)]
    Clock(#[from] ClockError),
    #[error(transparent)]
    Database(#[from] DbErr),
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn test_clock_stands_still_until_advanced() {
        let start = Utc.with_ymd_and_hms(2027, 1, 31, 12, 0, 0).unwrap();
        let clock = TestClock::new(start);
        assert_eq!(clock.now(), start);
        assert_eq!(
            clock.advance(Duration::days(29)).unwrap(),
            start + Duration::days(29)
        );
        assert_eq!(clock.now(), start + Duration::days(29));
    }

    #[test]
    fn test_clock_never_runs_backwards() {
        let start = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let clock = TestClock::new(start);
        assert_eq!(
            clock.advance(Duration::seconds(-1)),
            Err(ClockError::Backwards)
        );
        assert_eq!(
            clock.set(start - Duration::seconds(1)),
            Err(ClockError::Backwards)
        );
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn system_clock_is_millisecond_precise() {
        let now = SystemClock.now();
        assert_eq!(now.timestamp_subsec_nanos() % 1_000_000, 0);
    }
}
