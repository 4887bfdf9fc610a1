//! Where time comes from. Everything that reads the time takes a [`Clock`], so
//! tests and the sandbox can move time forward and watch a month of billing in
//! seconds.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound, Utc};

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
