//! When a failed delivery is tried again.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

/// `Retry-After` is honoured up to this long.
const MAX_RETRY_AFTER_SECS: i64 = 86_400;

/// What to do after attempt number `attempts` (1-based) failed, with the
/// configured `schedule` (the delay before each attempt; the first, 0, is
/// the immediate first attempt). `None`: no attempts are left. Later delays are lengthened by
/// up to 10% so endpoints coming back are not hit by every retry at once;
/// a longer `retry_after` wins.
pub fn next_delay(
    schedule: &[u64],
    attempts: u32,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Option<Duration> {
    let base = *schedule.get(attempts as usize)?;
    let base_ms = i64::try_from(base).unwrap_or(i64::MAX / 2_000) * 1000;
    let jitter_ms = if base_ms > 0 {
        rng.random_range(0..=base_ms / 10)
    } else {
        0
    };
    let delay = Duration::milliseconds(base_ms + jitter_ms);
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
        let mut rng = rand::rng();
        for _ in 0..200 {
            for (attempts, base) in SCHEDULE.iter().enumerate().skip(1) {
                let d = next_delay(&SCHEDULE, attempts as u32, None, &mut rng).unwrap();
                let base = Duration::seconds(*base as i64);
                assert!(d >= base && d <= base + base / 10, "{attempts}: {d}");
            }
        }
        assert_eq!(next_delay(&SCHEDULE, 8, None, &mut rng), None);
        assert_eq!(next_delay(&SCHEDULE, 100, None, &mut rng), None);
    }

    #[test]
    fn a_longer_retry_after_wins_a_shorter_one_does_not() {
        let mut rng = rand::rng();
        let long = Duration::seconds(60);
        assert_eq!(next_delay(&SCHEDULE, 1, Some(long), &mut rng), Some(long));
        let short = Duration::seconds(1);
        let d = next_delay(&SCHEDULE, 2, Some(short), &mut rng).unwrap();
        assert!(d >= Duration::seconds(300));
        let huge = Duration::days(30);
        assert_eq!(
            next_delay(&SCHEDULE, 1, Some(huge), &mut rng),
            Some(Duration::days(1))
        );
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
