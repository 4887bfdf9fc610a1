//! Prefixed, ULID-based typed identifiers (e.g. `plan_01hx...`).

use std::sync::Mutex;

use thiserror::Error;
use ulid::{Generator, Ulid};

/// Length of the ULID body of every id.
const ULID_LEN: usize = 26;

static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// A string could not be parsed as an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid id: expected an id starting with `{expected_prefix}` followed by a 26-character ULID"
)]
pub struct IdError {
    /// The prefix the id should have started with, e.g. `plan_`.
    pub expected_prefix: &'static str,
}

/// Generates the next ULID from the process-wide monotonic generator, as lowercase text.
fn next_ulid() -> String {
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    // `generate` only fails when the random part overflows within one millisecond
    // (2^80 ids); fall back to a fresh random ULID in that case.
    let ulid = generator.generate().unwrap_or_else(|_| Ulid::new());
    ulid.to_string().to_ascii_lowercase()
}

/// Validates `prefix` + ULID and returns the normalised (lowercase) form.
fn parse_prefixed(s: &str, prefix: &'static str) -> Result<String, IdError> {
    let err = IdError {
        expected_prefix: prefix,
    };
    let body = s.strip_prefix(prefix).ok_or(err.clone())?;
    // The first character must be <= '7', otherwise the value exceeds 128 bits.
    if body.len() != ULID_LEN || !matches!(body.as_bytes()[0], b'0'..=b'7') {
        return Err(err);
    }
    Ulid::from_string(body).map_err(|_| err)?;
    Ok(format!("{prefix}{}", body.to_ascii_lowercase()))
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix every id of this type starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Generates a new id; ids generated later in this process sort after earlier ones.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(format!("{}{}", $prefix, next_ulid()))
            }

            /// Parses an id, accepting upper or lower case ULIDs; the result is lowercase.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                parse_prefixed(s, $prefix).map(Self)
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(/** Identifies a merchant. */ MerchantId, "mer_");
prefixed_id!(/** Identifies a dashboard user. */ UserId, "usr_");
prefixed_id!(/** Identifies an API key. */ ApiKeyId, "key_");
prefixed_id!(/** Identifies a plan. */ PlanId, "plan_");
prefixed_id!(/** Identifies a customer. */ CustomerId, "cus_");
prefixed_id!(/** Identifies a subscription. */ SubscriptionId, "sub_");
prefixed_id!(/** Identifies an invoice. */ InvoiceId, "inv_");
prefixed_id!(/** Identifies a Lightning payment request. */ PaymentRequestId, "pr_");
prefixed_id!(/** Identifies a push-payment attempt. */ PushAttemptId, "pa_");
prefixed_id!(/** Identifies a domain event. */ EventId, "evt_");
prefixed_id!(/** Identifies a webhook endpoint. */ WebhookEndpointId, "we_");
prefixed_id!(/** Identifies a webhook delivery. */ WebhookDeliveryId, "wd_");
prefixed_id!(/** Identifies one attempt of a webhook delivery. */ WebhookAttemptId, "wda_");
prefixed_id!(/** Identifies an outgoing email. */ EmailId, "em_");
prefixed_id!(/** Identifies a request the sandbox's webhook inspector received. */ InspectedId, "wir_");
prefixed_id!(/** Identifies a merchant's daily email summary. */ EmailDigestId, "dig_");
prefixed_id!(/** Identifies an unpaid invoice held for a summary. */ DigestItemId, "udi_");
prefixed_id!(/** Identifies an invoice's pay-page link. */ PayLinkId, "pl_");
prefixed_id!(/** Identifies a subscriber's grant (not the wire's grant id). */ GrantId, "grt_");
prefixed_id!(/** Identifies a subscriber's Nostr Wallet Connect connection. */ WalletConnectionId, "wc_");
prefixed_id!(/** Identifies a dashboard session. */ SessionId, "ses_");
prefixed_id!(/** Identifies an invitation to a merchant's dashboard. */ InviteId, "ivt_");
prefixed_id!(/** Identifies a sign-in link to the customer portal. */ PortalLinkId, "ptl_");
prefixed_id!(/** Identifies a customer portal session. */ PortalSessionId, "pts_");

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "01hx5zzkbkactav9wevgemmvrz";

    #[test]
    fn new_has_prefix_and_lowercase_ulid() {
        let id = PlanId::new();
        let s = id.as_str();
        assert!(s.starts_with("plan_"));
        assert_eq!(s.len(), "plan_".len() + 26);
        assert_eq!(s, s.to_ascii_lowercase());
        assert_eq!(PlanId::parse(s).unwrap(), id);
    }

    #[test]
    fn new_ids_sort_in_creation_order() {
        let ids: Vec<InvoiceId> = (0..1000).map(|_| InvoiceId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
    }

    #[test]
    fn new_ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..500).map(|_| EventId::new()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<EventId> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }

    #[test]
    fn parse_normalises_upper_case() {
        let upper = format!("cus_{}", BODY.to_ascii_uppercase());
        let id = CustomerId::parse(&upper).unwrap();
        assert_eq!(id.as_str(), format!("cus_{BODY}"));
        assert_eq!(id.to_string(), format!("cus_{BODY}"));
    }

    #[test]
    fn parse_rejects_bad_input() {
        let bad = [
            String::new(),
            "plan_".to_string(),
            BODY.to_string(),
            format!("sub_{BODY}"),
            format!("PLAN_{BODY}"),
            format!("plan_{}", &BODY[1..]),
            format!("plan_{BODY}0"),
            format!("plan_{}u", &BODY[1..]), // 'u' is not Crockford base32
            format!("plan_8{}", &BODY[1..]), // overflows 128 bits
            format!("plan_{}é", &BODY[2..]),
        ];
        for s in bad {
            assert!(PlanId::parse(&s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn error_names_expected_prefix() {
        let err = PlanId::parse("cus_x").unwrap_err();
        assert_eq!(err.expected_prefix, "plan_");
        assert!(
            err.to_string()
                .contains("expected an id starting with `plan_`")
        );
    }

    #[test]
    fn prefixes_are_distinct() {
        let id = WebhookDeliveryId::new().to_string();
        assert!(WebhookEndpointId::parse(&id).is_err());
        assert!(WebhookDeliveryId::parse(&id).is_ok());
        assert!(PaymentRequestId::new().as_str().starts_with("pr_"));
        assert!(PushAttemptId::new().as_str().starts_with("pa_"));
        assert!(MerchantId::new().as_str().starts_with("mer_"));
        assert!(UserId::new().as_str().starts_with("usr_"));
        assert!(ApiKeyId::new().as_str().starts_with("key_"));
        assert!(SubscriptionId::new().as_str().starts_with("sub_"));
        assert!(EmailId::new().as_str().starts_with("em_"));
        assert!(EmailDigestId::new().as_str().starts_with("dig_"));
        assert!(DigestItemId::new().as_str().starts_with("udi_"));
        assert!(PayLinkId::new().as_str().starts_with("pl_"));
        assert!(GrantId::new().as_str().starts_with("grt_"));
        assert!(WebhookAttemptId::new().as_str().starts_with("wda_"));
    }

    #[test]
    fn from_str_and_into_string() {
        let id: MerchantId = format!("mer_{BODY}").parse().unwrap();
        let s: String = id.into();
        assert_eq!(s, format!("mer_{BODY}"));
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let id = SubscriptionId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        let back: SubscriptionId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<SubscriptionId>("\"sub_nope\"").is_err());
        assert!(serde_json::from_str::<SubscriptionId>(&format!("\"inv_{BODY}\"")).is_err());
        assert!(serde_json::from_str::<SubscriptionId>("42").is_err());
        let upper: SubscriptionId =
            serde_json::from_str(&format!("\"sub_{}\"", BODY.to_ascii_uppercase())).unwrap();
        assert_eq!(upper.as_str(), format!("sub_{BODY}"));
    }
}
