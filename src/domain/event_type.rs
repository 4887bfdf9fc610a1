//! The catalogue of event types: what merchants subscribe their webhook
//! endpoints to. Dot-separated, `<object>.<what happened>`.

use serde::{Deserialize, Serialize};

macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventType {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                }
            }

            pub fn parse(s: &str) -> Option<EventType> {
                match s {
                    $($name => Some(EventType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    CustomerCreated => "customer.created",
    CustomerUpdated => "customer.updated",
    CustomerDeleted => "customer.deleted",
    CustomerBalanceUpdated => "customer.balance_updated",
    SubscriptionCreated => "subscription.created",
    SubscriptionUpdated => "subscription.updated",
    SubscriptionTrialWillEnd => "subscription.trial_will_end",
    SubscriptionPastDue => "subscription.past_due",
    SubscriptionUnpaid => "subscription.unpaid",
    SubscriptionCanceled => "subscription.canceled",
    SubscriptionPaused => "subscription.paused",
    SubscriptionResumed => "subscription.resumed",
    SubscriptionBillingFailed => "subscription.billing_failed",
    InvoiceCreated => "invoice.created",
    InvoicePushed => "invoice.pushed",
    InvoicePushFailed => "invoice.push_failed",
    InvoicePaid => "invoice.paid",
    InvoicePaymentFailed => "invoice.payment_failed",
    InvoiceUnpaid => "invoice.unpaid",
    InvoiceVoided => "invoice.voided",
    InvoiceMarkedUncollectible => "invoice.marked_uncollectible",
    PaymentRequestExpired => "payment_request.expired",
    PaymentRequestFailed => "payment_request.failed",
    PaymentUnapplied => "payment.unapplied",
    GrantCreated => "grant.created",
    GrantRevoked => "grant.revoked",
    GrantEnded => "grant.ended",
    WebhookEndpointDisabled => "webhook_endpoint.disabled",
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(*t));
            assert!(seen.insert(t.as_str()), "duplicate {t}");
            let json = serde_json::to_string(t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert_eq!(EventType::parse("invoice.bogus"), None);
    }
}
