//! Standard Webhooks signatures (https://www.standardwebhooks.com/).
//!
//! A secret is `whsec_` followed by the base64 of 32 random bytes; the HMAC
//! key is the decoded bytes. The signature of a message is
//! `v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`;
//! while a secret is being rotated the header carries one signature per
//! secret, separated by spaces.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the spec asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A signing secret as stored: `whsec_<base64>`. Never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a webhook secret is `whsec_` followed by base64")]
pub struct SecretError;

impl Secret {
    pub fn generate() -> Self {
        let mut key = vec![0u8; SECRET_BYTES];
        rand::rng().fill_bytes(&mut key);
        Self { key }
    }

    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let b64 = s.strip_prefix(SECRET_PREFIX).ok_or(SecretError)?;
        let key = STANDARD.decode(b64).map_err(|_| SecretError)?;
        if key.is_empty() {
            return Err(SecretError);
        }
        Ok(Self { key })
    }

    /// The `whsec_...` text, for storing and for showing the merchant once.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.key))
    }

    /// `v1,<base64 signature>` of one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret, space separated.
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_test_vector() {
        // The example in the Standard Webhooks specification and its libraries.
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn signatures_change_with_every_signed_part() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let base = secret.sign("evt_1", 1_700_000_000, b"{}");
        assert_ne!(base, secret.sign("evt_2", 1_700_000_000, b"{}"));
        assert_ne!(base, secret.sign("evt_1", 1_700_000_001, b"{}"));
        assert_ne!(base, secret.sign("evt_1", 1_700_000_000, b"{ }"));
        assert_ne!(base, Secret::generate().sign("evt_1", 1_700_000_000, b"{}"));
        // HMAC-SHA256 is 32 bytes: 44 base64 characters after `v1,`.
        assert_eq!(base.len(), 3 + 44);
    }

    #[test]
    fn generated_secrets_round_trip_and_are_long_and_distinct() {
        let a = Secret::generate();
        let text = a.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(Secret::parse(&text).unwrap(), a);
        assert!(STANDARD.decode(&text[6..]).unwrap().len() >= 24);
        assert_ne!(Secret::generate().expose(), text);
        assert!(!format!("{a:?}").contains(&text[6..]));
    }

    #[test]
    fn bad_secrets_are_refused() {
        for bad in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
        ] {
            assert_eq!(Secret::parse(bad), Err(SecretError), "{bad}");
        }
    }

    #[test]
    fn the_header_carries_one_signature_per_secret() {
        let (a, b) = (Secret::generate(), Secret::generate());
        let header = signature_header(&[a.clone(), b.clone()], "evt_1", 5, b"x");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts, [a.sign("evt_1", 5, b"x"), b.sign("evt_1", 5, b"x")]);
    }
}
