//! When a failed delivery is tried again: the configured schedule as a
//! [`Backoff`], and the endpoint's `Retry-After`.

use chrono::{DateTime, Duration, Utc};

use crate::domain::Backoff;

/// `Retry-After` is honoured up to this long.
const MAX_RETRY_AFTER_SECS: i64 = 86_400;

/// The back-off of `webhooks.retry_schedule_secs`, the delay before each
/// attempt (the first, 0, is the immediate first attempt): each wait
/// lengthened by up to 10% so endpoints coming back are not hit by every
/// retry at once, and no retry after the last.
pub fn backoff(schedule_secs: &[u64]) -> Backoff {
    let waits = schedule_secs
        .iter()
        .skip(1)
        .map(|s| {
            let secs = i64::try_from(*s).unwrap_or(i64::MAX);
            Duration::try_seconds(secs).unwrap_or(Duration::MAX)
        })
        .collect();
    let attempts = u32::try_from(schedule_secs.len()).unwrap_or(u32::MAX);
    Backoff::from_waits(waits)
        .give_up_after(attempts)
        .with_jitter()
}

/// The wait after attempt number `attempts` (1-based) failed: the
/// back-off's, or a longer `retry_after`. `None`: no attempts are left.
pub fn next_delay(
    backoff: &Backoff,
    attempts: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let delay = backoff.wait(attempts)?;
    Some(match retry_after {
        Some(ra) if ra > delay => ra.min(Duration::seconds(MAX_RETRY_AFTER_SECS)),
        _ => delay,
    })
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date (against `now`,
/// the wall clock, as the receiver means it).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::seconds(
            i64::try_from(secs)
                .unwrap_or(MAX_RETRY_AFTER_SECS)
                .min(MAX_RETRY_AFTER_SECS),
        ));
    }
    let at: DateTime<Utc> = httpdate::parse_http_date(value).ok()?.into();
    Some((at - now).max(Duration::zero()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [u64; 8] = [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000];

    #[test]
    fn the_schedule_is_followed_with_bounded_jitter_then_gives_up() {
        let backoff = backoff(&SCHEDULE);
        for _ in 0..200 {
            for (attempts, base) in SCHEDULE.iter().enumerate().skip(1) {
                let d = next_delay(&backoff, attempts as u32, None).unwrap();
                let base = Duration::seconds(*base as i64);
                assert!(d >= base && d <= base + base / 10, "{attempts}: {d}");
            }
        }
        assert_eq!(next_delay(&backoff, 8, None), None);
        assert_eq!(next_delay(&backoff, 100, None), None);
        assert_eq!(next_delay(&super::backoff(&[0]), 1, None), None);
    }

    #[test]
    fn a_longer_retry_after_wins_a_shorter_one_does_not() {
        let backoff = backoff(&SCHEDULE);
        let long = Duration::seconds(60);
        assert_eq!(next_delay(&backoff, 1, Some(long)), Some(long));
        let short = Duration::seconds(1);
        let d = next_delay(&backoff, 2, Some(short)).unwrap();
        assert!(d >= Duration::seconds(300));
        let huge = Duration::days(30);
        assert_eq!(next_delay(&backoff, 1, Some(huge)), Some(Duration::days(1)));
        assert_eq!(next_delay(&backoff, 8, Some(long)), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now: DateTime<Utc> = "2015-10-21T07:28:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::seconds(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::seconds(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::zero())
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
