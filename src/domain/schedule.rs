//! Billing schedules and period arithmetic, all in UTC.
//!
//! A schedule is either "every N days/weeks/months/years" counted from an anchor,
//! or a cron expression. Because everything is UTC, DST never shifts a period.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Months, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a schedule could not be built or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// Unknown interval unit.
    #[error("unknown interval unit `{0}`: expected day, week, month, year or cron")]
    UnknownUnit(String),
    /// Interval count outside the allowed range.
    #[error("interval count for `{interval}` must be between 1 and {max}, got {count}")]
    InvalidCount {
        /// The interval the count applies to.
        interval: Interval,
        /// The rejected count.
        count: u32,
        /// The largest allowed count.
        max: u32,
    },
    /// The cron expression does not parse.
    #[error("invalid cron expression `{expr}`: {reason}")]
    InvalidCron {
        /// The rejected expression.
        expr: String,
        /// The parser's explanation.
        reason: String,
    },
    /// The cron expression has no future fire time.
    #[error("cron expression `{0}` never fires again")]
    CronNeverFires(String),
    /// Unit `cron` without an expression.
    #[error("a cron schedule needs a cron expression")]
    MissingCron,
    /// A cron expression given with a non-cron unit.
    #[error("a cron expression is only allowed with the `cron` unit")]
    UnexpectedCron,
    /// The computed date is outside the supported calendar range.
    #[error("date is out of the supported range")]
    OutOfRange,
}

/// The unit of an [`Schedule::Every`] schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    /// Calendar-independent 24 hours.
    Day,
    /// Seven days.
    Week,
    /// A calendar month, day clamped to the month's length.
    Month,
    /// Twelve calendar months.
    Year,
}

impl Interval {
    /// All intervals.
    pub const ALL: [Interval; 4] = [Self::Day, Self::Week, Self::Month, Self::Year];

    /// Storage string: "day", "week", "month" or "year".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// Parses a storage string.
    pub fn parse(s: &str) -> Result<Interval, ScheduleError> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| ScheduleError::UnknownUnit(s.to_string()))
    }

    /// Largest allowed count for this interval (about ten years).
    pub fn max_count(self) -> u32 {
        match self {
            Self::Day => 1000,
            Self::Week => 520,
            Self::Month => 120,
            Self::Year => 10,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed cron expression evaluated in UTC.
///
/// Uses the `cron` crate's syntax, whose first field is seconds (6 fields, or 7
/// with a year). Standard 5-field expressions are accepted too and get `0`
/// prepended (fire at second 0). Shorthands like `@daily` work. The crate only
/// knows years 1970-2100, so no cron schedule fires after 2100.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expr: String,
    // Boxed: the parsed schedule is large and `Schedule::Every` is tiny.
    schedule: Box<cron::Schedule>,
}

impl CronSchedule {
    /// Parses an expression (syntax only; see [`Schedule::cron`] for the future check).
    pub fn parse(expr: &str) -> Result<CronSchedule, ScheduleError> {
        let expr = expr.trim();
        let full = if expr.split_whitespace().count() == 5 {
            format!("0 {expr}")
        } else {
            expr.to_string()
        };
        let schedule = cron::Schedule::from_str(&full).map_err(|e| ScheduleError::InvalidCron {
            expr: expr.to_string(),
            reason: e.to_string(),
        })?;
        Ok(CronSchedule {
            expr: expr.to_string(),
            schedule: Box::new(schedule),
        })
    }

    /// The expression as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.expr
    }

    /// The first fire time strictly after `t`, if any.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule.after(&t).next()
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr
    }
}

impl Eq for CronSchedule {}

/// How often a subscription bills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every `count` intervals, counted from the subscription's anchor.
    Every {
        /// Unit of the interval.
        interval: Interval,
        /// Number of units per period.
        count: u32,
    },
    /// Whenever the cron expression fires (the anchor is ignored).
    Cron(CronSchedule),
}

/// A half-open billing period `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl Period {
    /// True if `start <= t < end`.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// The days it covers, first and last both included, as people read
    /// them: a month from 1 Dec to 1 Jan is "2027-12-01 to 2027-12-31". The
    /// last day is the day of the last millisecond before the exclusive end.
    pub fn days(&self) -> String {
        let last = self.end - TimeDelta::milliseconds(1);
        format!(
            "{} to {}",
            self.start.format("%Y-%m-%d"),
            std::cmp::max(last, self.start).format("%Y-%m-%d")
        )
    }
}

impl Schedule {
    /// "Every `count` `interval`s", with `count` checked against [`Interval::max_count`].
    pub fn every(interval: Interval, count: u32) -> Result<Schedule, ScheduleError> {
        let max = interval.max_count();
        if !(1..=max).contains(&count) {
            return Err(ScheduleError::InvalidCount {
                interval,
                count,
                max,
            });
        }
        Ok(Schedule::Every { interval, count })
    }

    /// A cron schedule; rejects expressions that never fire after the current time.
    pub fn cron(expr: &str) -> Result<Schedule, ScheduleError> {
        let cron = CronSchedule::parse(expr)?;
        if cron.next_after(Utc::now()).is_none() {
            return Err(ScheduleError::CronNeverFires(cron.expr));
        }
        Ok(Schedule::Cron(cron))
    }

    /// Builds a schedule from its storage columns (see [`Schedule::unit_str`]).
    /// For the `cron` unit the count is ignored.
    pub fn parse_parts(
        unit: &str,
        count: u32,
        cron: Option<&str>,
    ) -> Result<Schedule, ScheduleError> {
        match (unit, cron) {
            ("cron", Some(expr)) => Ok(Schedule::Cron(CronSchedule::parse(expr)?)),
            ("cron", None) => Err(ScheduleError::MissingCron),
            (unit, None) => Schedule::every(Interval::parse(unit)?, count),
            (_, Some(_)) => Err(ScheduleError::UnexpectedCron),
        }
    }

    /// Storage unit: "day", "week", "month", "year" or "cron".
    pub fn unit_str(&self) -> &'static str {
        match self {
            Schedule::Every { interval, .. } => interval.as_str(),
            Schedule::Cron(_) => "cron",
        }
    }

    /// Storage count (1 for cron schedules).
    pub fn count(&self) -> u32 {
        match self {
            Schedule::Every { count, .. } => *count,
            Schedule::Cron(_) => 1,
        }
    }

    /// Storage cron expression (`None` unless cron).
    pub fn cron_expr(&self) -> Option<&str> {
        match self {
            Schedule::Every { .. } => None,
            Schedule::Cron(c) => Some(c.as_str()),
        }
    }

    /// The `n`-th boundary of an `Every` schedule: `anchor + n * count` units.
    ///
    /// Months and years are added to the anchor itself (not to the previous
    /// boundary), clamping the day to the month's length and keeping the time
    /// of day. `None` for cron schedules or if the date is out of range.
    pub fn boundary(&self, anchor: DateTime<Utc>, n: u32) -> Option<DateTime<Utc>> {
        let Schedule::Every { interval, count } = self else {
            return None;
        };
        let units = i64::from(n) * i64::from(*count);
        match interval {
            Interval::Day => anchor.checked_add_signed(TimeDelta::try_days(units)?),
            Interval::Week => anchor.checked_add_signed(TimeDelta::try_weeks(units)?),
            Interval::Month => add_months(anchor, units),
            Interval::Year => add_months(anchor, units.checked_mul(12)?),
        }
    }

    /// The smallest boundary strictly after `t` (the anchor itself if `t < anchor`).
    ///
    /// For cron schedules: the next fire time strictly after `t`; the anchor is ignored.
    pub fn next_boundary_after(
        &self,
        anchor: DateTime<Utc>,
        t: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, ScheduleError> {
        match self {
            Schedule::Cron(c) => c
                .next_after(t)
                .ok_or_else(|| ScheduleError::CronNeverFires(c.expr.clone())),
            Schedule::Every { .. } => {
                let n = self.next_index_after(anchor, t)?;
                self.boundary(anchor, n).ok_or(ScheduleError::OutOfRange)
            }
        }
    }

    /// The period `[start, next_boundary_after(anchor, start))`.
    pub fn period_starting_at(
        &self,
        anchor: DateTime<Utc>,
        start: DateTime<Utc>,
    ) -> Result<Period, ScheduleError> {
        let end = self.next_boundary_after(anchor, start)?;
        Ok(Period { start, end })
    }

    /// Index of the smallest `Every` boundary strictly after `t`, in O(1):
    /// an arithmetic estimate corrected by at most a couple of steps.
    fn next_index_after(
        &self,
        anchor: DateTime<Utc>,
        t: DateTime<Utc>,
    ) -> Result<u32, ScheduleError> {
        let Schedule::Every { interval, count } = self else {
            return Err(ScheduleError::OutOfRange);
        };
        if t < anchor {
            return Ok(0);
        }
        let count = i64::from(*count);
        let estimate = match interval {
            Interval::Day => (t - anchor).num_days() / count,
            Interval::Week => (t - anchor).num_weeks() / count,
            Interval::Month | Interval::Year => {
                let months = i64::from(t.year() - anchor.year()) * 12 + i64::from(t.month0())
                    - i64::from(anchor.month0());
                let step = if *interval == Interval::Year {
                    count * 12
                } else {
                    count
                };
                months / step
            }
        };
        let mut n = u32::try_from(estimate.max(0)).map_err(|_| ScheduleError::OutOfRange)?;
        let at = |n: u32| self.boundary(anchor, n).ok_or(ScheduleError::OutOfRange);
        while n > 0 && at(n)? > t {
            n -= 1;
        }
        while at(n)? <= t {
            n = n.checked_add(1).ok_or(ScheduleError::OutOfRange)?;
        }
        Ok(n)
    }
}

/// `anchor + months` calendar months, day clamped to the target month's length.
fn add_months(anchor: DateTime<Utc>, months: i64) -> Option<DateTime<Utc>> {
    anchor.checked_add_months(Months::new(u32::try_from(months).ok()?))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_period_reads_as_its_first_and_last_day() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let month = Period {
            start: at("2027-12-01T00:00:00Z"),
            end: at("2028-01-01T00:00:00Z"),
        };
        assert_eq!(month.days(), "2027-12-01 to 2027-12-31");
        let shifted = Period {
            start: at("2027-12-10T08:00:00Z"),
            end: at("2028-01-10T08:00:00Z"),
        };
        assert_eq!(shifted.days(), "2027-12-10 to 2028-01-10");
        let one_day = Period {
            start: at("2028-02-29T00:00:00Z"),
            end: at("2028-03-01T00:00:00Z"),
        };
        assert_eq!(one_day.days(), "2028-02-29 to 2028-02-29");
    }
    use super::*;
    use chrono::{NaiveDate, TimeZone};
    use proptest::prelude::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, mi, s).unwrap()
    }

    fn every(interval: Interval, count: u32) -> Schedule {
        Schedule::every(interval, count).unwrap()
    }

    /// The first `k` periods starting at `start`.
    fn periods(s: &Schedule, anchor: DateTime<Utc>, start: DateTime<Utc>, k: usize) -> Vec<Period> {
        let mut out: Vec<Period> = Vec::with_capacity(k);
        let mut next = start;
        for _ in 0..k {
            let p = s.period_starting_at(anchor, next).unwrap();
            next = p.end;
            out.push(p);
        }
        out
    }

    fn ends(s: &Schedule, anchor: DateTime<Utc>, k: usize) -> Vec<DateTime<Utc>> {
        periods(s, anchor, anchor, k)
            .iter()
            .map(|p| p.end)
            .collect()
    }

    fn days_in_month(y: i32, m: u32) -> u32 {
        let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap();
        let next = first.checked_add_months(Months::new(1)).unwrap();
        (next - first).num_days() as u32
    }

    #[test]
    fn monthly_anchored_on_31st_through_leap_and_non_leap_years() {
        let anchor = utc(2023, 1, 31, 10, 30, 0);
        let got = ends(&every(Interval::Month, 1), anchor, 15);
        let want = [
            (2023, 2, 28),
            (2023, 3, 31),
            (2023, 4, 30),
            (2023, 5, 31),
            (2023, 6, 30),
            (2023, 7, 31),
            (2023, 8, 31),
            (2023, 9, 30),
            (2023, 10, 31),
            (2023, 11, 30),
            (2023, 12, 31),
            (2024, 1, 31),
            (2024, 2, 29),
            (2024, 3, 31),
            (2024, 4, 30),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|&(y, m, d)| utc(y, m, d, 10, 30, 0))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn monthly_anchored_on_29th_and_30th() {
        let s = every(Interval::Month, 1);
        let from_29 = ends(&s, utc(2023, 1, 29, 0, 0, 0), 3);
        assert_eq!(
            from_29,
            [
                utc(2023, 2, 28, 0, 0, 0),
                utc(2023, 3, 29, 0, 0, 0),
                utc(2023, 4, 29, 0, 0, 0)
            ]
        );
        let from_29_leap = ends(&s, utc(2024, 1, 29, 0, 0, 0), 2);
        assert_eq!(
            from_29_leap,
            [utc(2024, 2, 29, 0, 0, 0), utc(2024, 3, 29, 0, 0, 0)]
        );
        let from_30 = ends(&s, utc(2024, 1, 30, 8, 0, 0), 3);
        assert_eq!(
            from_30,
            [
                utc(2024, 2, 29, 8, 0, 0),
                utc(2024, 3, 30, 8, 0, 0),
                utc(2024, 4, 30, 8, 0, 0)
            ]
        );
    }

    #[test]
    fn yearly_anchored_on_feb_29_over_8_years() {
        let anchor = utc(2024, 2, 29, 12, 0, 0);
        let got = ends(&every(Interval::Year, 1), anchor, 8);
        let want: Vec<_> = [
            (2025, 28),
            (2026, 28),
            (2027, 28),
            (2028, 29),
            (2029, 28),
            (2030, 28),
            (2031, 28),
            (2032, 29),
        ]
        .iter()
        .map(|&(y, d)| utc(y, 2, d, 12, 0, 0))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn weekly_and_every_3_months() {
        let anchor = utc(2024, 12, 30, 9, 0, 0);
        let weekly = ends(&every(Interval::Week, 1), anchor, 2);
        assert_eq!(
            weekly,
            [utc(2025, 1, 6, 9, 0, 0), utc(2025, 1, 13, 9, 0, 0)]
        );
        let biweekly = ends(&every(Interval::Week, 2), anchor, 1);
        assert_eq!(biweekly, [utc(2025, 1, 13, 9, 0, 0)]);

        let anchor = utc(2023, 11, 30, 0, 0, 0);
        let quarterly = ends(&every(Interval::Month, 3), anchor, 4);
        assert_eq!(
            quarterly,
            [
                utc(2024, 2, 29, 0, 0, 0),
                utc(2024, 5, 30, 0, 0, 0),
                utc(2024, 8, 30, 0, 0, 0),
                utc(2024, 11, 30, 0, 0, 0),
            ]
        );
    }

    #[test]
    fn daily_periods_are_24h_across_dst_changes() {
        let s = every(Interval::Day, 1);
        // EU DST starts 2024-03-31, US DST starts 2024-03-10, EU ends 2024-10-27.
        for anchor in [
            utc(2024, 3, 29, 0, 30, 0),
            utc(2024, 3, 8, 7, 0, 0),
            utc(2024, 10, 25, 1, 30, 0),
        ] {
            for p in periods(&s, anchor, anchor, 5) {
                assert_eq!(p.end - p.start, TimeDelta::hours(24));
            }
        }
    }

    #[test]
    fn next_boundary_after_is_strict() {
        let s = every(Interval::Month, 1);
        let anchor = utc(2024, 1, 31, 0, 0, 0);
        // Before the anchor: the anchor itself.
        assert_eq!(
            s.next_boundary_after(anchor, utc(2023, 5, 1, 0, 0, 0)),
            Ok(anchor)
        );
        // Exactly on a boundary: the next one.
        assert_eq!(
            s.next_boundary_after(anchor, anchor),
            Ok(utc(2024, 2, 29, 0, 0, 0))
        );
        assert_eq!(
            s.next_boundary_after(anchor, utc(2024, 2, 29, 0, 0, 0)),
            Ok(utc(2024, 3, 31, 0, 0, 0))
        );
        // Just before one.
        let just_before = utc(2024, 3, 31, 0, 0, 0) - TimeDelta::nanoseconds(1);
        assert_eq!(
            s.next_boundary_after(anchor, just_before),
            Ok(utc(2024, 3, 31, 0, 0, 0))
        );
    }

    #[test]
    fn next_boundary_far_in_the_future_is_fast() {
        let anchor = utc(1970, 1, 1, 0, 0, 0);
        let far = utc(200_000, 6, 15, 3, 0, 0);
        let daily = every(Interval::Day, 1);
        assert_eq!(
            daily.next_boundary_after(anchor, far),
            Ok(utc(200_000, 6, 16, 0, 0, 0))
        );
        let monthly = every(Interval::Month, 1);
        assert_eq!(
            monthly.next_boundary_after(anchor, far),
            Ok(utc(200_000, 7, 1, 0, 0, 0))
        );
        let later = utc(2124, 5, 1, 0, 0, 0);
        let m = every(Interval::Month, 7);
        let b = m.next_boundary_after(anchor, later).unwrap();
        assert!(b > later && b - later <= TimeDelta::days(7 * 31));
    }

    #[test]
    fn out_of_range_is_an_error() {
        let near_max = DateTime::<Utc>::MAX_UTC - TimeDelta::days(1);
        let s = every(Interval::Year, 10);
        assert_eq!(
            s.next_boundary_after(near_max, near_max),
            Err(ScheduleError::OutOfRange)
        );
        assert_eq!(s.boundary(near_max, u32::MAX), None);
    }

    #[test]
    fn per_minute_cron() {
        let s = Schedule::cron("0 * * * * *").unwrap();
        let anchor = utc(2020, 1, 1, 0, 0, 0);
        let t = utc(2030, 6, 1, 12, 0, 30);
        assert_eq!(
            s.next_boundary_after(anchor, t),
            Ok(utc(2030, 6, 1, 12, 1, 0))
        );
        // Strictly after, even exactly on a fire time.
        let on = utc(2030, 6, 1, 12, 1, 0);
        assert_eq!(
            s.next_boundary_after(anchor, on),
            Ok(utc(2030, 6, 1, 12, 2, 0))
        );
        let sub = on + TimeDelta::milliseconds(1);
        assert_eq!(
            s.next_boundary_after(anchor, sub),
            Ok(utc(2030, 6, 1, 12, 2, 0))
        );
        for p in periods(&s, anchor, on, 3) {
            assert_eq!(p.end - p.start, TimeDelta::minutes(1));
        }
    }

    #[test]
    fn monthly_cron_at_nine_utc_on_the_first() {
        let s = Schedule::cron("0 0 9 1 * *").unwrap();
        let a = utc(2030, 1, 1, 0, 0, 0);
        let got: Vec<_> = periods(&s, a, utc(2030, 1, 15, 0, 0, 0), 3)
            .iter()
            .map(|p| p.end)
            .collect();
        assert_eq!(
            got,
            [
                utc(2030, 2, 1, 9, 0, 0),
                utc(2030, 3, 1, 9, 0, 0),
                utc(2030, 4, 1, 9, 0, 0)
            ]
        );
        assert_eq!(
            s.next_boundary_after(a, utc(2030, 3, 1, 8, 59, 59)),
            Ok(utc(2030, 3, 1, 9, 0, 0))
        );
    }

    #[test]
    fn cron_forms() {
        // 5-field gets seconds = 0 prepended; 7-field with a year is accepted.
        let five = Schedule::cron("0 9 1 * *").unwrap();
        let six = Schedule::cron("0 0 9 1 * *").unwrap();
        let a = utc(2030, 1, 1, 0, 0, 0);
        assert_eq!(
            five.next_boundary_after(a, a),
            six.next_boundary_after(a, a)
        );
        assert_eq!(five.cron_expr(), Some("0 9 1 * *"));
        assert!(Schedule::cron("0 0 9 1 * * 2030-2099").is_ok());
        assert!(Schedule::cron("@daily").is_ok());
        assert!(matches!(
            Schedule::cron("not a cron"),
            Err(ScheduleError::InvalidCron { .. })
        ));
        assert!(matches!(
            Schedule::cron("0 0 25 * * *"),
            Err(ScheduleError::InvalidCron { .. })
        ));
        assert!(matches!(
            Schedule::cron(""),
            Err(ScheduleError::InvalidCron { .. })
        ));
    }

    #[test]
    fn cron_that_never_fires_again_is_rejected() {
        assert_eq!(
            Schedule::cron("0 0 0 1 1 * 2020"),
            Err(ScheduleError::CronNeverFires("0 0 0 1 1 * 2020".into()))
        );
        // February 30th never exists.
        assert!(matches!(
            Schedule::cron("0 0 0 30 2 *"),
            Err(ScheduleError::CronNeverFires(_))
        ));
        // Past the crate's last year (2100) there is no next fire time.
        let s = Schedule::cron("0 0 0 1 1 *").unwrap();
        let t = utc(2100, 6, 1, 0, 0, 0);
        assert!(matches!(
            s.next_boundary_after(t, t),
            Err(ScheduleError::CronNeverFires(_))
        ));
        assert_eq!(s.boundary(t, 1), None);
    }

    #[test]
    fn count_limits() {
        for (interval, max) in [
            (Interval::Day, 1000),
            (Interval::Week, 520),
            (Interval::Month, 120),
            (Interval::Year, 10),
        ] {
            assert!(Schedule::every(interval, 1).is_ok());
            assert!(Schedule::every(interval, max).is_ok());
            assert_eq!(
                Schedule::every(interval, 0),
                Err(ScheduleError::InvalidCount {
                    interval,
                    count: 0,
                    max
                })
            );
            assert!(Schedule::every(interval, max + 1).is_err());
        }
        assert_eq!(
            Schedule::every(Interval::Month, 121)
                .unwrap_err()
                .to_string(),
            "interval count for `month` must be between 1 and 120, got 121"
        );
    }

    #[test]
    fn storage_parts_round_trip() {
        for s in [
            every(Interval::Day, 3),
            every(Interval::Week, 2),
            every(Interval::Month, 1),
            every(Interval::Year, 10),
            Schedule::cron("0 0 9 1 * *").unwrap(),
        ] {
            let back = Schedule::parse_parts(s.unit_str(), s.count(), s.cron_expr()).unwrap();
            assert_eq!(back, s);
        }
        assert_eq!(every(Interval::Week, 2).unit_str(), "week");
        let cron = Schedule::cron("0 * * * * *").unwrap();
        assert_eq!((cron.unit_str(), cron.count()), ("cron", 1));
        assert_eq!(
            Schedule::parse_parts("cron", 1, None),
            Err(ScheduleError::MissingCron)
        );
        assert_eq!(
            Schedule::parse_parts("day", 1, Some("0 * * * * *")),
            Err(ScheduleError::UnexpectedCron)
        );
        assert_eq!(
            Schedule::parse_parts("fortnight", 1, None),
            Err(ScheduleError::UnknownUnit("fortnight".into()))
        );
        assert!(Schedule::parse_parts("month", 0, None).is_err());
    }

    #[test]
    fn interval_strings_and_serde() {
        for i in Interval::ALL {
            assert_eq!(Interval::parse(i.as_str()), Ok(i));
            assert_eq!(serde_json::to_string(&i).unwrap(), format!("\"{i}\""));
        }
        assert!(Interval::parse("Month").is_err());
    }

    #[test]
    fn period_contains_and_serde() {
        let p = Period {
            start: utc(2024, 1, 1, 0, 0, 0),
            end: utc(2024, 2, 1, 0, 0, 0),
        };
        assert!(p.contains(p.start));
        assert!(!p.contains(p.end));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Period>(&json).unwrap(), p);
    }

    // ---- properties ----

    /// 1971-01-01 to 2200-12-31, millisecond precision.
    fn any_instant(max_year: i32) -> impl Strategy<Value = DateTime<Utc>> {
        let lo = utc(1971, 1, 1, 0, 0, 0).timestamp_millis();
        let hi = utc(max_year, 12, 31, 23, 59, 59).timestamp_millis();
        (lo..=hi).prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
    }

    fn any_every() -> impl Strategy<Value = Schedule> {
        prop::sample::select(Interval::ALL.to_vec())
            .prop_flat_map(|i| (Just(i), 1..=i.max_count()))
            .prop_map(|(i, c)| every(i, c))
    }

    fn any_cron() -> impl Strategy<Value = Schedule> {
        prop::sample::select(vec![
            "0 * * * * *",
            "0 0 9 1 * *",
            "0 30 14 * * Mon",
            "0 0 0 29 2 *",
            "0 0 0 1 1 *",
            "0 0 12 * * *",
            "0 0 0 31 * *",
        ])
        .prop_map(|e| Schedule::Cron(CronSchedule::parse(e).unwrap()))
    }

    /// Every schedules over 1971-2200; cron ones before 2070 since the cron
    /// crate stops at 2100 (Feb 29 crons need up to 8 years per period).
    fn any_case() -> impl Strategy<Value = (Schedule, DateTime<Utc>, DateTime<Utc>)> {
        prop_oneof![
            (any_every(), any_instant(2200), any_instant(2200)),
            (any_cron(), any_instant(2060), any_instant(2060)),
        ]
    }

    proptest! {
        #[test]
        fn consecutive_periods_are_contiguous((s, anchor, start) in any_case()) {
            let ps = periods(&s, anchor, start, 6);
            prop_assert_eq!(ps[0].start, start);
            for p in &ps {
                prop_assert!(p.end > p.start);
            }
            for w in ps.windows(2) {
                prop_assert_eq!(w[1].start, w[0].end);
                prop_assert!(w[1].end > w[0].end);
            }
        }

        #[test]
        fn periods_from_anchor_end_on_boundaries(s in any_every(), anchor in any_instant(2200)) {
            let Schedule::Every { interval, count } = s else { unreachable!() };
            for (k, p) in periods(&s, anchor, anchor, 6).iter().enumerate() {
                let k = k as u32 + 1;
                prop_assert_eq!(Some(p.end), s.boundary(anchor, k));
                prop_assert_eq!(p.end.time(), anchor.time());
                match interval {
                    Interval::Day => prop_assert_eq!(p.end - anchor, TimeDelta::days(i64::from(k * count))),
                    Interval::Week => prop_assert_eq!(p.end - anchor, TimeDelta::weeks(i64::from(k * count))),
                    Interval::Month | Interval::Year => {
                        let clamped = anchor.day().min(days_in_month(p.end.year(), p.end.month()));
                        prop_assert_eq!(p.end.day(), clamped);
                        let step = if interval == Interval::Year { 12 } else { 1 };
                        let months = (p.end.year() - anchor.year()) * 12 + p.end.month() as i32 - anchor.month() as i32;
                        prop_assert_eq!(months, (k * count * step) as i32);
                    }
                }
            }
        }

        #[test]
        fn next_boundary_is_strictly_after_and_minimal((s, anchor, t) in any_case()) {
            let b = s.next_boundary_after(anchor, t).unwrap();
            prop_assert!(b > t);
            if t < anchor && matches!(s, Schedule::Every { .. }) {
                prop_assert_eq!(b, anchor);
            }
            if let Schedule::Every { .. } = s {
                // The boundary before `b` (if any) is at or before `t`.
                let n = s.next_index_after(anchor, t).unwrap();
                prop_assert_eq!(s.boundary(anchor, n), Some(b));
                if n > 0 {
                    prop_assert!(s.boundary(anchor, n - 1).unwrap() <= t);
                }
            }
            if let Schedule::Cron(c) = &s {
                prop_assert!(c.schedule.includes(b));
            }
        }
    }
}
