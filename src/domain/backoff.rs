//! When a failed attempt is tried again, and when to stop: one rule for
//! every queue that retries (webhook deliveries, the email outbox, pushes).

use std::borrow::Cow;

use chrono::Duration;
use rand::Rng;

/// The waits after failed attempts 1, 2, ...: a list or a doubling, an
/// optional limit on attempts, and optional jitter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    waits: Waits,
    /// Attempts in all; `None`: tried for ever.
    max_attempts: Option<u32>,
    /// Waits are lengthened by up to 10%, so receivers coming back are not
    /// hit by every retry at once.
    jitter: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Waits {
    /// The wait after each failed attempt; the last one repeats.
    Listed(Cow<'static, [Duration]>),
    /// `first`, then doubled after each further failure (at most 2^16 times `first`).
    Doubling { first: Duration },
}

/// Doublings before a doubling back-off stops growing.
const MAX_DOUBLINGS: u32 = 16;

impl Backoff {
    /// Waits `waits[0]` after the first failed attempt, `waits[1]` after the
    /// second, and so on; the last wait repeats for ever.
    pub const fn listed(waits: &'static [Duration]) -> Backoff {
        Backoff {
            waits: Waits::Listed(Cow::Borrowed(waits)),
            max_attempts: None,
            jitter: false,
        }
    }

    /// [`Backoff::listed`], with waits known only at run time (configuration).
    pub fn from_waits(waits: Vec<Duration>) -> Backoff {
        Backoff {
            waits: Waits::Listed(Cow::Owned(waits)),
            max_attempts: None,
            jitter: false,
        }
    }

    /// Waits `first` after the first failed attempt, and twice as long after
    /// each further one.
    pub const fn doubling(first: Duration) -> Backoff {
        Backoff {
            waits: Waits::Doubling { first },
            max_attempts: None,
            jitter: false,
        }
    }

    /// Gives up once `attempts` attempts in all have failed.
    pub fn give_up_after(mut self, attempts: u32) -> Backoff {
        self.max_attempts = Some(attempts);
        self
    }

    /// Lengthens every wait by a random amount of up to 10%.
    pub fn with_jitter(mut self) -> Backoff {
        self.jitter = true;
        self
    }

    /// The wait after `failed` failed attempts (1: the first attempt
    /// failed; 0 counts as 1); `None` when no attempt is left.
    pub fn wait(&self, failed: u32) -> Option<Duration> {
        self.wait_with(failed, &mut rand::rng())
    }

    /// [`Backoff::wait`], drawing the jitter from `rng`.
    pub fn wait_with(&self, failed: u32, rng: &mut impl Rng) -> Option<Duration> {
        let failed = failed.max(1);
        if self.max_attempts.is_some_and(|max| failed >= max) {
            return None;
        }
        let base = match &self.waits {
            Waits::Listed(waits) => {
                let i = usize::try_from(failed - 1).unwrap_or(usize::MAX);
                *waits.get(i).or(waits.last())?
            }
            Waits::Doubling { first } => {
                let factor = 1i32 << (failed - 1).min(MAX_DOUBLINGS);
                match *first > Duration::MAX / factor {
                    true => Duration::MAX,
                    false => *first * factor,
                }
            }
        };
        if !self.jitter || base <= Duration::zero() {
            return Some(base);
        }
        let tenth_ms = (base / 10).num_milliseconds();
        let jitter = Duration::milliseconds(rng.random_range(0..=tenth_ms));
        Some(base.checked_add(&jitter).unwrap_or(base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: i64) -> Duration {
        Duration::seconds(s)
    }

    #[test]
    fn a_list_is_followed_and_its_last_wait_repeats() {
        const B: Backoff = Backoff::listed(&[Duration::minutes(1), Duration::minutes(5)]);
        assert_eq!(B.wait(0), Some(secs(60)));
        assert_eq!(B.wait(1), Some(secs(60)));
        assert_eq!(B.wait(2), Some(secs(300)));
        assert_eq!(B.wait(3), Some(secs(300)));
        assert_eq!(B.wait(u32::MAX), Some(secs(300)));
    }

    #[test]
    fn a_limit_gives_up_after_that_many_attempts() {
        let b = Backoff::from_waits(vec![secs(5), secs(300)]).give_up_after(3);
        assert_eq!(b.wait(1), Some(secs(5)));
        assert_eq!(b.wait(2), Some(secs(300)));
        assert_eq!(b.wait(3), None);
        assert_eq!(b.wait(100), None);
        assert_eq!(Backoff::doubling(secs(1)).give_up_after(1).wait(1), None);
        assert_eq!(Backoff::from_waits(Vec::new()).wait(1), None);
    }

    #[test]
    fn a_doubling_doubles_up_to_a_ceiling() {
        let b = Backoff::doubling(secs(60));
        assert_eq!(b.wait(1), Some(secs(60)));
        assert_eq!(b.wait(2), Some(secs(120)));
        assert_eq!(b.wait(3), Some(secs(240)));
        assert_eq!(b.wait(17), Some(secs(60 << 16)));
        assert_eq!(b.wait(40), Some(secs(60 << 16)));
        assert_eq!(
            Backoff::doubling(Duration::zero()).wait(5),
            Some(Duration::zero())
        );
        assert_eq!(
            Backoff::doubling(Duration::MAX).wait(3),
            Some(Duration::MAX)
        );
    }

    #[test]
    fn jitter_lengthens_by_at_most_a_tenth_and_spares_zero() {
        let b = Backoff::from_waits(vec![Duration::zero(), secs(300), secs(36_000)]).with_jitter();
        let mut rng = rand::rng();
        let mut longer = false;
        for _ in 0..200 {
            assert_eq!(b.wait_with(1, &mut rng), Some(Duration::zero()));
            for (failed, base) in [(2, secs(300)), (3, secs(36_000))] {
                let d = b.wait_with(failed, &mut rng).unwrap();
                assert!(d >= base && d <= base + base / 10, "{failed}: {d}");
                longer |= d > base;
            }
        }
        assert!(longer, "some wait was lengthened");
    }
}
