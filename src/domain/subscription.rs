//! The subscription lifecycle state machine.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::error::ParseEnumError;

/// Where a subscription is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// In a free trial.
    Trialing,
    /// Paid up and billing.
    Active,
    /// Has an overdue invoice, within the grace period.
    PastDue,
    /// Grace period expired; billing stopped until paid.
    Unpaid,
    /// Paused by the merchant or customer.
    Paused,
    /// Ended for good.
    Canceled,
}

impl SubscriptionStatus {
    /// All statuses.
    pub const ALL: [SubscriptionStatus; 6] = [
        Self::Trialing,
        Self::Active,
        Self::PastDue,
        Self::Unpaid,
        Self::Paused,
        Self::Canceled,
    ];

    /// Storage string, e.g. "past_due".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
            Self::Canceled => "canceled",
        }
    }

    /// Parses a storage string.
    pub fn parse(s: &str) -> Result<Self, ParseEnumError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseEnumError::new("subscription status", s))
    }

    /// True for statuses whose billing periods keep rolling.
    pub fn bills(self) -> bool {
        matches!(self, Self::Trialing | Self::Active | Self::PastDue)
    }

    /// True once no further transition is possible.
    pub fn is_terminal(self) -> bool {
        self == Self::Canceled
    }

    /// The status after `event`, or an error if the transition is not allowed.
    pub fn apply(self, event: SubscriptionEvent) -> Result<Self, IllegalTransition> {
        use SubscriptionEvent as E;
        use SubscriptionStatus as S;
        match (self, event) {
            (S::Trialing, E::TrialEnded) => Ok(S::Active),
            (S::Active | S::PastDue, E::InvoiceOverdue) => Ok(S::PastDue),
            (S::PastDue | S::Unpaid, E::AllOverdueInvoicesPaid) => Ok(S::Active),
            (S::PastDue, E::GraceExpired(GraceAction::MarkUnpaid)) => Ok(S::Unpaid),
            // Pausing does not forgive the debt: a plan that cancels on
            // nonpayment cancels a paused subscription too. (One that marks
            // unpaid leaves it paused; it resumes unpaid.)
            (S::PastDue | S::Paused, E::GraceExpired(GraceAction::Cancel)) => Ok(S::Canceled),
            (S::Trialing | S::Active | S::PastDue, E::Pause) => Ok(S::Paused),
            (S::Paused, E::Resume) => Ok(S::Active),
            (from, E::Cancel) if from != S::Canceled => Ok(S::Canceled),
            (from, event) => Err(IllegalTransition { from, event }),
        }
    }

    /// Human wording with an article, e.g. "an active".
    fn with_article(self) -> &'static str {
        match self {
            Self::Trialing => "a trialing",
            Self::Active => "an active",
            Self::PastDue => "a past-due",
            Self::Unpaid => "an unpaid",
            Self::Paused => "a paused",
            Self::Canceled => "a canceled",
        }
    }
}

impl fmt::Display for SubscriptionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to do when a past-due subscription's grace period runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum GraceAction {
    /// Move to `unpaid`.
    #[serde(rename = "unpaid")]
    MarkUnpaid,
    /// Move to `canceled`.
    #[serde(rename = "cancel")]
    Cancel,
}

impl GraceAction {
    /// Storage string: "unpaid" or "cancel".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MarkUnpaid => "unpaid",
            Self::Cancel => "cancel",
        }
    }

    /// Parses a storage string.
    pub fn parse(s: &str) -> Result<Self, ParseEnumError> {
        [Self::MarkUnpaid, Self::Cancel]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseEnumError::new("grace action", s))
    }
}

/// Something that happened to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionEvent {
    /// The trial period is over.
    TrialEnded,
    /// An invoice passed its due date unpaid.
    InvoiceOverdue,
    /// Every overdue invoice has been paid.
    AllOverdueInvoicesPaid,
    /// The grace period ran out; the plan's action applies.
    GraceExpired(GraceAction),
    /// Pause billing.
    Pause,
    /// Resume a paused subscription.
    Resume,
    /// End the subscription.
    Cancel,
}

impl SubscriptionEvent {
    /// Every event, including both grace actions.
    pub const ALL: [SubscriptionEvent; 8] = [
        Self::TrialEnded,
        Self::InvoiceOverdue,
        Self::AllOverdueInvoicesPaid,
        Self::GraceExpired(GraceAction::MarkUnpaid),
        Self::GraceExpired(GraceAction::Cancel),
        Self::Pause,
        Self::Resume,
        Self::Cancel,
    ];

    /// Verb phrase for error messages.
    fn verb(self) -> &'static str {
        match self {
            Self::TrialEnded => "end the trial of",
            Self::InvoiceOverdue => "mark an invoice overdue on",
            Self::AllOverdueInvoicesPaid => "settle overdue invoices on",
            Self::GraceExpired(_) => "expire the grace period of",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
        }
    }
}

/// A transition that the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("cannot {} {} subscription", .event.verb(), .from.with_article())]
pub struct IllegalTransition {
    /// The status the subscription was in.
    pub from: SubscriptionStatus,
    /// The rejected event.
    pub event: SubscriptionEvent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use GraceAction::*;
    use SubscriptionEvent as E;
    use SubscriptionStatus as S;

    /// The complete list of legal transitions.
    const LEGAL: [(S, E, S); 17] = [
        (S::Trialing, E::TrialEnded, S::Active),
        (S::Active, E::InvoiceOverdue, S::PastDue),
        (S::PastDue, E::InvoiceOverdue, S::PastDue),
        (S::PastDue, E::AllOverdueInvoicesPaid, S::Active),
        (S::Unpaid, E::AllOverdueInvoicesPaid, S::Active),
        (S::PastDue, E::GraceExpired(MarkUnpaid), S::Unpaid),
        (S::PastDue, E::GraceExpired(Cancel), S::Canceled),
        (S::Paused, E::GraceExpired(Cancel), S::Canceled),
        (S::Trialing, E::Pause, S::Paused),
        (S::Active, E::Pause, S::Paused),
        (S::PastDue, E::Pause, S::Paused),
        (S::Paused, E::Resume, S::Active),
        (S::Trialing, E::Cancel, S::Canceled),
        (S::Active, E::Cancel, S::Canceled),
        (S::PastDue, E::Cancel, S::Canceled),
        (S::Unpaid, E::Cancel, S::Canceled),
        (S::Paused, E::Cancel, S::Canceled),
    ];

    #[test]
    fn exhaustive_transition_table() {
        let mut legal = 0;
        for from in S::ALL {
            for event in E::ALL {
                let expected = LEGAL
                    .iter()
                    .find(|(f, e, _)| *f == from && *e == event)
                    .map(|(_, _, to)| *to);
                match expected {
                    Some(to) => {
                        legal += 1;
                        assert_eq!(from.apply(event), Ok(to), "{from:?} + {event:?}");
                    }
                    None => assert_eq!(
                        from.apply(event),
                        Err(IllegalTransition { from, event }),
                        "{from:?} + {event:?}"
                    ),
                }
            }
        }
        assert_eq!(legal, LEGAL.len());
    }

    #[test]
    fn canceled_is_terminal() {
        assert!(S::Canceled.is_terminal());
        assert!(E::ALL.iter().all(|&e| S::Canceled.apply(e).is_err()));
        assert!(S::ALL.iter().filter(|s| s.is_terminal()).count() == 1);
    }

    #[test]
    fn bills() {
        let billing: Vec<_> = S::ALL.into_iter().filter(|s| s.bills()).collect();
        assert_eq!(billing, [S::Trialing, S::Active, S::PastDue]);
    }

    #[test]
    fn error_messages() {
        let err = S::Canceled.apply(E::Pause).unwrap_err();
        assert_eq!(err.to_string(), "cannot pause a canceled subscription");
        let err = S::Active.apply(E::Resume).unwrap_err();
        assert_eq!(err.to_string(), "cannot resume an active subscription");
        let err = S::Unpaid.apply(E::GraceExpired(Cancel)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot expire the grace period of an unpaid subscription"
        );
    }

    #[test]
    fn status_strings_and_serde() {
        let names = [
            "trialing", "active", "past_due", "unpaid", "paused", "canceled",
        ];
        for (s, name) in S::ALL.into_iter().zip(names) {
            assert_eq!(s.as_str(), name);
            assert_eq!(s.to_string(), name);
            assert_eq!(S::parse(name), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<S>(&format!("\"{name}\"")).unwrap(),
                s
            );
        }
        let err = S::parse("PastDue").unwrap_err();
        assert_eq!(err.to_string(), "unknown subscription status `PastDue`");
    }

    #[test]
    fn grace_action_strings_and_serde() {
        for (a, name) in [(MarkUnpaid, "unpaid"), (Cancel, "cancel")] {
            assert_eq!(a.as_str(), name);
            assert_eq!(GraceAction::parse(name), Ok(a));
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<GraceAction>(&format!("\"{name}\"")).unwrap(),
                a
            );
        }
        assert!(GraceAction::parse("canceled").is_err());
    }
}
