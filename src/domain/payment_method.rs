//! How a subscription's invoices get paid, and by which rail a payment
//! request is sent. The storage strings are the columns' values.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::error::ParseEnumError;

/// How a subscription's invoices are paid. The books do not care which: an
/// invoice is paid when the merchant's node receives the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMethod {
    /// Each payment request is pushed to the customer's node (a customer
    /// without a node pays on the pay page, as with `manual`).
    Push,
    /// Each payment request is sent as a NIP-47 `pay_invoice` to the
    /// subscription's wallet connection.
    Nwc,
    /// Nothing is sent automatically: the customer is emailed the pay page.
    Manual,
}

impl PaymentMethod {
    pub const ALL: &'static [PaymentMethod] = &[Self::Push, Self::Nwc, Self::Manual];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Nwc => "nwc",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Result<Self, ParseEnumError> {
        Self::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ParseEnumError::new("payment method", s))
    }
}

impl fmt::Display for PaymentMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rail one attempt (`push_attempts.method`) goes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rail {
    /// The push protocol, to the customer's node.
    Push,
    /// Nostr Wallet Connect, to the wallet connection.
    Nwc,
}

impl Rail {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Nwc => "nwc",
        }
    }
}

/// Whether a wallet connection is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletConnectionStatus {
    Active,
    /// Removed by the subscriber or the merchant: its secret is erased.
    Removed,
}

impl WalletConnectionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Removed => "removed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_methods_round_trip_and_refuse_others() {
        for m in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::parse(m.as_str()), Ok(*m));
            assert_eq!(m.to_string(), m.as_str());
            assert_eq!(
                serde_json::to_value(m).unwrap(),
                serde_json::json!(m.as_str())
            );
        }
        for bad in ["", "PUSH", "nwc ", "card", "push\0"] {
            assert!(PaymentMethod::parse(bad).is_err(), "{bad:?}");
        }
    }
}
