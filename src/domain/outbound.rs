//! Statuses of what is sent out: pushes of payment requests to subscribers'
//! nodes, webhook deliveries and outgoing emails. The storage strings are
//! the `status` columns' values.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ParseEnumError;

/// A string-backed status: `ALL`, `as_str`, `parse`, `Display` and serde
/// with the storage strings.
macro_rules! status_enum {
    (
        $(#[$meta:meta])*
        $name:ident ($kind:literal) {
            $($(#[$vmeta:meta])* $variant:ident => $value:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $value)] $variant,)*
        }

        impl $name {
            /// All statuses.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// Storage string.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)*
                }
            }

            /// Parses a storage string.
            pub fn parse(s: &str) -> Result<Self, ParseEnumError> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| ParseEnumError::new($kind, s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

status_enum! {
    /// Where a push of a payment request to the customer's node is.
    PushAttemptStatus("push attempt status") {
        /// Waiting for the node role to send it (again).
        Queued => "queued",
        /// The subscriber's node will pay it.
        Accepted => "accepted",
        /// The subscriber's node holds it for its owner to approve.
        PendingApproval => "pending_approval",
        /// The subscriber's node paid it.
        Paid => "paid",
        /// The subscriber's node refused it, or its payment failed.
        Rejected => "rejected",
        /// Not delivered before the tries ran out.
        Failed => "failed",
        /// Not sent: the payment request or the invoice was no longer payable.
        Dropped => "dropped",
    }
}

impl PushAttemptStatus {
    /// Delivered, with the payment still to come: a late `paid` or
    /// `rejected` reply may follow.
    pub const AWAITING_PAYMENT: [PushAttemptStatus; 2] = [Self::Accepted, Self::PendingApproval];
}

status_enum! {
    /// Where a webhook delivery (one event to one endpoint) is.
    WebhookDeliveryStatus("webhook delivery status") {
        /// To be sent, or tried again.
        Pending => "pending",
        /// The endpoint answered 2xx.
        Succeeded => "succeeded",
        /// Given up: the retries ran out or the endpoint answered 410.
        Failed => "failed",
    }
}

status_enum! {
    /// Where an email in the outbox is.
    OutgoingEmailStatus("outgoing email status") {
        /// To be sent, or tried again.
        Pending => "pending",
        /// Accepted by the SMTP server.
        Sent => "sent",
        /// Refused for good.
        Failed => "failed",
        /// Never sent: a payment email whose invoice was no longer open at
        /// send time.
        Withdrawn => "withdrawn",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status has its storage string in `as_str`, `parse`, `Display`
    /// and serde.
    fn round_trips<T>(
        all: &[T],
        names: &[&str],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Result<T, ParseEnumError>,
    ) where
        T: Copy + PartialEq + fmt::Debug + fmt::Display + Serialize + for<'de> Deserialize<'de>,
    {
        assert_eq!(all.len(), names.len());
        for (&s, &name) in all.iter().zip(names) {
            assert_eq!(as_str(s), name);
            assert_eq!(parse(name), Ok(s));
            assert_eq!(s.to_string(), name);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{name}\""));
            assert_eq!(
                serde_json::from_str::<T>(&format!("\"{name}\"")).unwrap(),
                s
            );
        }
    }

    #[test]
    fn push_attempt_statuses() {
        type S = PushAttemptStatus;
        let names = [
            "queued",
            "accepted",
            "pending_approval",
            "paid",
            "rejected",
            "failed",
            "dropped",
        ];
        round_trips(S::ALL, &names, S::as_str, S::parse);
        let err = S::parse("Queued").unwrap_err();
        assert_eq!(err.to_string(), "unknown push attempt status `Queued`");
    }

    #[test]
    fn webhook_delivery_statuses() {
        type S = WebhookDeliveryStatus;
        round_trips(
            S::ALL,
            &["pending", "succeeded", "failed"],
            S::as_str,
            S::parse,
        );
        assert!(S::parse("sent").is_err());
    }

    #[test]
    fn outgoing_email_statuses() {
        type S = OutgoingEmailStatus;
        round_trips(
            S::ALL,
            &["pending", "sent", "failed", "withdrawn"],
            S::as_str,
            S::parse,
        );
        assert!(S::parse("succeeded").is_err());
    }
}
