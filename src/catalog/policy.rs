//! A plan's billing rules read from its row, and the dunning steps they imply.
//! Pure: no I/O.

use chrono::{DateTime, Duration, Utc};

use crate::domain::{GraceAction, Msat, Schedule};
use crate::error::{Error, Result};
use crate::store::plans;

/// Default dunning: re-push at +1 h, +6 h, +1 d and +3 d after the due time.
pub const DEFAULT_RETRY_SCHEDULE_SECS: [i64; 4] = [3_600, 6 * 3_600, 86_400, 3 * 86_400];
/// Default grace period after the due time before the subscription is marked unpaid.
pub const DEFAULT_GRACE_PERIOD_SECS: i64 = 7 * 86_400;
/// Default time after a period starts before its invoice is due.
pub const DEFAULT_PAYMENT_DUE_SECS: i64 = 86_400;

/// How an unpaid invoice is chased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DunningPolicy {
    /// Offsets after the due time at which payment is attempted again, increasing.
    pub retries: Vec<Duration>,
    /// Offset after the due time at which the invoice is declared unpaid.
    pub grace: Duration,
    pub grace_action: GraceAction,
}

impl Default for DunningPolicy {
    fn default() -> Self {
        Self {
            retries: DEFAULT_RETRY_SCHEDULE_SECS
                .iter()
                .map(|s| Duration::seconds(*s))
                .collect(),
            grace: Duration::seconds(DEFAULT_GRACE_PERIOD_SECS),
            grace_action: GraceAction::MarkUnpaid,
        }
    }
}

/// What dunning does at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DunningAction {
    /// The due time passed unpaid: the first attempt failed.
    Overdue,
    /// Try again. `previous_failed` is false for the first retry, whose
    /// predecessor was already reported at the due time.
    Retry { previous_failed: bool },
    /// The grace period is over. `last_failed` reports the last retry's failure.
    GraceEnded { last_failed: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DunningStep {
    pub action: DunningAction,
    /// When the following step is due; `None` after the grace period.
    pub next_at: Option<DateTime<Utc>>,
}

impl DunningPolicy {
    /// Checks the rules a merchant can break, naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.grace <= Duration::zero() {
            return Err(Error::invalid("grace_period_secs", "must be positive"));
        }
        if self.retries.len() > 20 {
            return Err(Error::invalid("retry_schedule_secs", "at most 20 retries"));
        }
        let mut previous = Duration::zero();
        for r in &self.retries {
            if *r <= previous {
                return Err(Error::invalid(
                    "retry_schedule_secs",
                    "offsets must be positive and strictly increasing",
                ));
            }
            if *r >= self.grace {
                return Err(Error::invalid(
                    "retry_schedule_secs",
                    "every retry must come before the grace period ends",
                ));
            }
            previous = *r;
        }
        Ok(())
    }

    /// The step numbered `step` (0 at the due time, 1..=k the retries, k+1 the
    /// end of grace) for an invoice due at `due_at`.
    pub fn step(&self, due_at: DateTime<Utc>, step: i32) -> Option<DunningStep> {
        let k = self.retries.len() as i32;
        let at = |i: i32| -> DateTime<Utc> {
            if i <= k {
                due_at + self.retries[(i - 1) as usize]
            } else {
                due_at + self.grace
            }
        };
        match step {
            0 => Some(DunningStep {
                action: DunningAction::Overdue,
                next_at: Some(at(1)),
            }),
            s if (1..=k).contains(&s) => Some(DunningStep {
                action: DunningAction::Retry {
                    previous_failed: s >= 2,
                },
                next_at: Some(at(s + 1)),
            }),
            s if s == k + 1 => Some(DunningStep {
                action: DunningAction::GraceEnded {
                    last_failed: k >= 1,
                },
                next_at: None,
            }),
            _ => None,
        }
    }
}

/// Everything the engine needs to know about a plan.
#[derive(Debug, Clone)]
pub struct PlanRules {
    pub schedule: Schedule,
    pub amount: Msat,
    pub trial: Duration,
    pub payment_due: Duration,
    pub dunning: DunningPolicy,
}

impl PlanRules {
    pub fn from_model(plan: &plans::Model) -> Result<Self> {
        let corrupt = |what: &str| Error::corrupt(format!("plan {}: {what}", plan.id));
        let schedule = Schedule::parse_parts(
            &plan.interval_unit,
            u32::try_from(plan.interval_count).map_err(|_| corrupt("interval_count"))?,
            plan.cron_expression.as_deref(),
        )
        .map_err(|e| corrupt(&e.to_string()))?;
        let amount = Msat::try_from(plan.amount_msat).map_err(|e| corrupt(&e.to_string()))?;
        let retries: Vec<i64> = serde_json::from_value(plan.retry_schedule_secs.clone())
            .map_err(|_| corrupt("retry_schedule_secs"))?;
        let grace_action =
            GraceAction::parse(&plan.grace_action).map_err(|_| corrupt("grace_action"))?;
        Ok(Self {
            schedule,
            amount,
            trial: Duration::seconds(plan.trial_period_secs),
            payment_due: Duration::seconds(plan.payment_due_secs),
            dunning: DunningPolicy {
                retries: retries.into_iter().map(Duration::seconds).collect(),
                grace: Duration::seconds(plan.grace_period_secs),
                grace_action,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn due() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 1, 0, 0, 0).unwrap()
    }

    #[test]
    fn default_policy_walks_due_retries_then_grace() {
        let p = DunningPolicy::default();
        p.validate().unwrap();
        let h = Duration::hours;
        let expected = [
            (DunningAction::Overdue, Some(due() + h(1))),
            (
                DunningAction::Retry {
                    previous_failed: false,
                },
                Some(due() + h(6)),
            ),
            (
                DunningAction::Retry {
                    previous_failed: true,
                },
                Some(due() + h(24)),
            ),
            (
                DunningAction::Retry {
                    previous_failed: true,
                },
                Some(due() + h(72)),
            ),
            (
                DunningAction::Retry {
                    previous_failed: true,
                },
                Some(due() + h(168)),
            ),
            (DunningAction::GraceEnded { last_failed: true }, None),
        ];
        for (step, (action, next_at)) in expected.into_iter().enumerate() {
            let got = p.step(due(), step as i32).unwrap();
            assert_eq!((got.action, got.next_at), (action, next_at), "step {step}");
        }
        assert_eq!(p.step(due(), 6), None);
    }

    #[test]
    fn policy_without_retries_goes_from_due_to_grace() {
        let p = DunningPolicy {
            retries: vec![],
            grace: Duration::days(2),
            grace_action: GraceAction::Cancel,
        };
        assert_eq!(
            p.step(due(), 0).unwrap().next_at,
            Some(due() + Duration::days(2))
        );
        assert_eq!(
            p.step(due(), 1).unwrap().action,
            DunningAction::GraceEnded { last_failed: false }
        );
    }

    #[test]
    fn invalid_policies_name_the_field() {
        let mut p = DunningPolicy {
            retries: vec![Duration::hours(6), Duration::hours(1)],
            ..DunningPolicy::default()
        };
        assert!(
            matches!(p.validate(), Err(Error::Invalid { param, .. }) if param == "retry_schedule_secs")
        );
        p.retries = vec![Duration::days(8)];
        assert!(
            matches!(p.validate(), Err(Error::Invalid { param, .. }) if param == "retry_schedule_secs")
        );
        p.retries = vec![];
        p.grace = Duration::zero();
        assert!(
            matches!(p.validate(), Err(Error::Invalid { param, .. }) if param == "grace_period_secs")
        );
    }
}
