//! Validated email addresses.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

const MAX_LOCAL_LEN: usize = 64;
const MAX_TOTAL_LEN: usize = 254;
const MAX_LABEL_LEN: usize = 63;

/// Why an email address was rejected; messages are safe to show to API users.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("email address must not be empty")]
    Empty,
    /// Too long overall.
    #[error("email address must be at most 254 characters")]
    TooLong,
    /// Whitespace or control characters inside the address.
    #[error("email address must not contain spaces or control characters")]
    InvalidCharacter,
    /// Zero or several `@`.
    #[error("email address must contain exactly one `@`")]
    BadAt,
    /// Empty or over-long local part.
    #[error("the part before `@` must be 1 to 64 characters")]
    BadLocalPart,
    /// Malformed domain.
    #[error("the part after `@` must be a domain name like `example.com`")]
    BadDomain,
    /// Characters the mailer cannot send to (e.g. `<` or `"` in the part before `@`).
    #[error(
        "email address cannot be mailed: use letters, digits and !#$%&'*+-/=?^_`{{|}}~. before `@`"
    )]
    Unmailable,
}

/// A syntactically valid email address; the domain is stored lowercase.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Trims, validates and normalises (lowercases the domain only).
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::InvalidCharacter);
        }
        if s.len() > MAX_TOTAL_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = s.split_once('@').ok_or(EmailError::BadAt)?;
        if domain.contains('@') {
            return Err(EmailError::BadAt);
        }
        if local.is_empty() || local.len() > MAX_LOCAL_LEN {
            return Err(EmailError::BadLocalPart);
        }
        if !valid_domain(domain) {
            return Err(EmailError::BadDomain);
        }
        let address = format!("{local}@{}", domain.to_ascii_lowercase());
        if !mailable(&address) {
            return Err(EmailError::Unmailable);
        }
        Ok(EmailAddress(address))
    }

    /// The address as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(l, _)| l)
    }

    /// The (lowercase) part after `@`.
    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

/// What the API accepts, the mailer can send to: lettre parses the address
/// and the recipient it sends to (`notify::email::send`) the same way.
fn mailable(address: &str) -> bool {
    address.parse::<lettre::Address>().is_ok()
        && address
            .parse::<lettre::message::Mailbox>()
            .is_ok_and(|m| m.name.is_none() && AsRef::<str>::as_ref(&m.email) == address)
}

/// At least two dot-separated labels of `[A-Za-z0-9-]`, not starting or ending with `-`.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, EmailError> {
        Self::parse(s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        let e = EmailAddress::parse("  Alice.Smith+tag@Example.CO.uk \n").unwrap();
        assert_eq!(e.as_str(), "Alice.Smith+tag@example.co.uk");
        assert_eq!(e.local_part(), "Alice.Smith+tag");
        assert_eq!(e.domain(), "example.co.uk");
        assert!(EmailAddress::parse("a@b.c").is_ok());
        assert!(EmailAddress::parse("x@my-host.example").is_ok());
        assert!(EmailAddress::parse("x@123.example").is_ok());
    }

    #[test]
    fn rejects_bad_at() {
        assert_eq!(
            EmailAddress::parse("alice.example.com"),
            Err(EmailError::BadAt)
        );
        assert_eq!(
            EmailAddress::parse("a@b@example.com"),
            Err(EmailError::BadAt)
        );
    }

    #[test]
    fn rejects_bad_local_part() {
        assert_eq!(
            EmailAddress::parse("@example.com"),
            Err(EmailError::BadLocalPart)
        );
        let local = "a".repeat(65);
        assert_eq!(
            EmailAddress::parse(&format!("{local}@example.com")),
            Err(EmailError::BadLocalPart)
        );
        assert!(EmailAddress::parse(&format!("{}@example.com", "a".repeat(64))).is_ok());
    }

    #[test]
    fn rejects_bad_domain() {
        for d in [
            "localhost",
            "",
            "example..com",
            ".example.com",
            "example.com.",
            "-ex.com",
            "ex-.com",
            "ex.-com",
            "ex_ample.com",
            "exämple.com",
            "[127.0.0.1]",
        ] {
            assert_eq!(
                EmailAddress::parse(&format!("a@{d}")),
                Err(EmailError::BadDomain),
                "{d:?}"
            );
        }
    }

    #[test]
    fn rejects_whitespace_control_and_empty() {
        assert_eq!(EmailAddress::parse("   "), Err(EmailError::Empty));
        assert_eq!(
            EmailAddress::parse("a b@example.com"),
            Err(EmailError::InvalidCharacter)
        );
        assert_eq!(
            EmailAddress::parse("ab@exa\u{0}mple.com"),
            Err(EmailError::InvalidCharacter)
        );
        assert_eq!(
            EmailAddress::parse("a\tb@example.com"),
            Err(EmailError::InvalidCharacter)
        );
    }

    #[test]
    fn rejects_what_the_mailer_cannot_send_to() {
        for address in [
            "<script>@example.com",
            "a<b@example.com",
            "a>b@example.com",
            "\"quoted\"@example.com",
            "a,b@example.com",
            "a;b@example.com",
            "a(b)@example.com",
            "a[b]@example.com",
            "a\\b@example.com",
            "a:b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
        ] {
            assert_eq!(
                EmailAddress::parse(address),
                Err(EmailError::Unmailable),
                "{address}"
            );
        }
        for address in ["o'brien@example.com", "a!#$%&*+-/=?^_`{|}~@example.com"] {
            let e = EmailAddress::parse(address).unwrap();
            assert!(e.as_str().parse::<lettre::message::Mailbox>().is_ok());
        }
    }

    #[test]
    fn length_limit() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(60)
        );
        let ok = format!("{}@{domain}", "x".repeat(254 - domain.len() - 1));
        assert_eq!(ok.len(), 254);
        assert!(EmailAddress::parse(&ok).is_ok());
        let too_long = format!("y{ok}");
        assert_eq!(EmailAddress::parse(&too_long), Err(EmailError::TooLong));
    }

    #[test]
    fn error_messages_are_user_facing() {
        assert_eq!(
            EmailError::BadAt.to_string(),
            "email address must contain exactly one `@`"
        );
    }

    #[test]
    fn serde_round_trip_and_validation() {
        let e = EmailAddress::parse("bob@EXAMPLE.com").unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, "\"bob@example.com\"");
        assert_eq!(serde_json::from_str::<EmailAddress>(&json).unwrap(), e);
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
        let s: String = e.into();
        assert_eq!(s, "bob@example.com");
    }
}
