//! Requests per API key: a token bucket in memory for each key id. A bucket
//! holds up to `burst` tokens and refills at `per_second`; a request takes one
//! token, and a request that finds none is answered 429 with `Retry-After`
//! (whole seconds until a token is back, at least 1). The buckets live in
//! this process: with several web processes each enforces the limit alone.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::config::ApiSettings;

/// Past this many keys, buckets that have refilled are dropped: a full bucket
/// is the same as no bucket.
const PRUNE_AT: usize = 10_000;

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    pub fn new(settings: &ApiSettings) -> Self {
        Self {
            per_second: settings.rate_limit_per_second,
            burst: f64::from(settings.rate_limit_burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key_id`; when none is left, the seconds to wait.
    pub fn check(&self, key_id: &str) -> Result<(), u64> {
        self.check_at(key_id, Instant::now())
    }

    fn check_at(&self, key_id: &str, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= PRUNE_AT {
            buckets.retain(|_, b| self.refill(*b, now).tokens < self.burst);
        }
        let bucket = buckets.entry(key_id.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        *bucket = self.refill(*bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second;
            // Whole seconds, rounded up, so a client that waits that long finds a token.
            Err(wait.ceil().max(1.0) as u64)
        }
    }

    fn refill(&self, b: Bucket, now: Instant) -> Bucket {
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        Bucket {
            tokens: (b.tokens + elapsed * self.per_second).min(self.burst),
            at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limiter(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter::new(&ApiSettings {
            rate_limit_per_second: per_second,
            rate_limit_burst: burst,
        })
    }

    #[test]
    fn a_burst_then_the_steady_rate() {
        let l = limiter(2.0, 3);
        let t = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check_at("key_a", t), Ok(()));
        }
        assert_eq!(l.check_at("key_a", t), Err(1));
        // Another key has its own bucket.
        assert_eq!(l.check_at("key_b", t), Ok(()));
        // Half a second buys one token at 2 per second.
        let t = t + Duration::from_millis(500);
        assert_eq!(l.check_at("key_a", t), Ok(()));
        assert_eq!(l.check_at("key_a", t), Err(1));
        // Never more than the burst, however long the wait.
        let t = t + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(l.check_at("key_a", t), Ok(()));
        }
        assert!(l.check_at("key_a", t).is_err());
    }

    #[test]
    fn retry_after_is_whole_seconds_until_a_token() {
        let l = limiter(0.1, 1);
        let t = Instant::now();
        assert_eq!(l.check_at("k", t), Ok(()));
        assert_eq!(l.check_at("k", t), Err(10));
        let t = t + Duration::from_millis(2500);
        assert_eq!(l.check_at("k", t), Err(8));
        // Refused requests take nothing: waiting what was said is enough.
        let t = t + Duration::from_secs(8);
        assert_eq!(l.check_at("k", t), Ok(()));
    }

    #[test]
    fn full_buckets_are_pruned() {
        let l = limiter(1000.0, 1);
        let t = Instant::now();
        for i in 0..PRUNE_AT {
            assert_eq!(l.check_at(&format!("key_{i}"), t), Ok(()));
        }
        let later = t + Duration::from_secs(1);
        assert_eq!(l.check_at("key_new", later), Ok(()));
        assert_eq!(l.buckets.lock().unwrap().len(), 1);
    }
}
