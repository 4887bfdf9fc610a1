//! Invoice and payment-request state machines.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::error::ParseEnumError;

/// Where an invoice is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Being assembled; not yet payable.
    Draft,
    /// Finalized and awaiting payment.
    Open,
    /// Paid in full (terminal).
    Paid,
    /// Canceled without payment (terminal).
    Void,
    /// Given up on, but a late payment is still accepted.
    Uncollectible,
}

impl InvoiceStatus {
    /// All statuses.
    pub const ALL: [InvoiceStatus; 5] = [
        Self::Draft,
        Self::Open,
        Self::Paid,
        Self::Void,
        Self::Uncollectible,
    ];

    /// Storage string, e.g. "uncollectible".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Void => "void",
            Self::Uncollectible => "uncollectible",
        }
    }

    /// Parses a storage string.
    pub fn parse(s: &str) -> Result<Self, ParseEnumError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseEnumError::new("invoice status", s))
    }

    /// True for `paid` and `void`.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Paid | Self::Void)
    }

    /// The status after `event`, or an error if the transition is not allowed.
    pub fn apply(self, event: InvoiceEvent) -> Result<Self, IllegalInvoiceTransition> {
        use InvoiceEvent as E;
        use InvoiceStatus as S;
        match (self, event) {
            (S::Draft, E::Finalize) => Ok(S::Open),
            (S::Open | S::Uncollectible, E::Pay) => Ok(S::Paid),
            (S::Draft | S::Open | S::Uncollectible, E::Void) => Ok(S::Void),
            (S::Open, E::MarkUncollectible) => Ok(S::Uncollectible),
            (from, event) => Err(IllegalInvoiceTransition { from, event }),
        }
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happened to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceEvent {
    /// Lock the draft and make it payable.
    Finalize,
    /// Payment received.
    Pay,
    /// Cancel the invoice.
    Void,
    /// Stop trying to collect.
    MarkUncollectible,
}

impl InvoiceEvent {
    /// All events.
    pub const ALL: [InvoiceEvent; 4] = [
        Self::Finalize,
        Self::Pay,
        Self::Void,
        Self::MarkUncollectible,
    ];

    fn verb(self) -> &'static str {
        match self {
            Self::Finalize => "finalize",
            Self::Pay => "pay",
            Self::Void => "void",
            Self::MarkUncollectible => "mark as uncollectible",
        }
    }
}

/// An invoice transition that the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("cannot {} {} invoice", .event.verb(), article(.from))]
pub struct IllegalInvoiceTransition {
    /// The status the invoice was in.
    pub from: InvoiceStatus,
    /// The rejected event.
    pub event: InvoiceEvent,
}

fn article(status: &InvoiceStatus) -> String {
    let s = status.as_str();
    let a = if s.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{a} {s}")
}

/// State of a Lightning payment request (BOLT11 invoice) for an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentRequestStatus {
    /// Queued for the Lightning node to create the BOLT11.
    Pending,
    /// The BOLT11 exists and can be paid.
    Issued,
    /// Settled.
    Paid,
    /// Expired unpaid.
    Expired,
    /// Withdrawn (e.g. the invoice was voided).
    Canceled,
    /// The node can never issue it (e.g. an amount no BOLT11 can carry);
    /// `failure_reason` says why.
    Failed,
}

impl PaymentRequestStatus {
    /// All statuses.
    pub const ALL: [PaymentRequestStatus; 6] = [
        Self::Pending,
        Self::Issued,
        Self::Paid,
        Self::Expired,
        Self::Canceled,
        Self::Failed,
    ];

    /// Storage string, e.g. "pending".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Issued => "issued",
            Self::Paid => "paid",
            Self::Expired => "expired",
            Self::Canceled => "canceled",
            Self::Failed => "failed",
        }
    }

    /// Parses a storage string.
    pub fn parse(s: &str) -> Result<Self, ParseEnumError> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| ParseEnumError::new("payment request status", s))
    }

    /// True for `paid`, `expired`, `canceled` and `failed`.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Paid | Self::Expired | Self::Canceled | Self::Failed
        )
    }
}

impl fmt::Display for PaymentRequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InvoiceEvent as E;
    use InvoiceStatus as S;

    /// The complete list of legal transitions.
    const LEGAL: [(S, E, S); 7] = [
        (S::Draft, E::Finalize, S::Open),
        (S::Draft, E::Void, S::Void),
        (S::Open, E::Pay, S::Paid),
        (S::Open, E::Void, S::Void),
        (S::Open, E::MarkUncollectible, S::Uncollectible),
        (S::Uncollectible, E::Pay, S::Paid),
        (S::Uncollectible, E::Void, S::Void),
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
                        Err(IllegalInvoiceTransition { from, event }),
                        "{from:?} + {event:?}"
                    ),
                }
            }
        }
        assert_eq!(legal, LEGAL.len());
    }

    #[test]
    fn terminal_statuses_accept_nothing() {
        for s in S::ALL {
            let stuck = E::ALL.iter().all(|&e| s.apply(e).is_err());
            assert_eq!(s.is_terminal(), stuck, "{s:?}");
        }
    }

    #[test]
    fn error_messages() {
        let err = S::Void.apply(E::Pay).unwrap_err();
        assert_eq!(err.to_string(), "cannot pay a void invoice");
        let err = S::Open.apply(E::Finalize).unwrap_err();
        assert_eq!(err.to_string(), "cannot finalize an open invoice");
        let err = S::Paid.apply(E::MarkUncollectible).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot mark as uncollectible a paid invoice"
        );
    }

    #[test]
    fn invoice_status_strings_and_serde() {
        let names = ["draft", "open", "paid", "void", "uncollectible"];
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
        assert!(S::parse("Paid").is_err());
    }

    #[test]
    fn payment_request_status_strings_and_serde() {
        type P = PaymentRequestStatus;
        let names = ["pending", "issued", "paid", "expired", "canceled", "failed"];
        for (s, name) in P::ALL.into_iter().zip(names) {
            assert_eq!(s.as_str(), name);
            assert_eq!(s.to_string(), name);
            assert_eq!(P::parse(name), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<P>(&format!("\"{name}\"")).unwrap(),
                s
            );
        }
        assert!(P::parse("cancelled").is_err());
        let terminal: Vec<_> = P::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [P::Paid, P::Expired, P::Canceled, P::Failed]);
    }
}
