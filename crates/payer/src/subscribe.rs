//! The subscribe handshake from the subscriber's side (docs/push-invoices.md,
//! "Subscribe"): `payer subscribe CODE` asks the running payer for the
//! merchant's terms, shows them, and on the subscriber's yes has the payer
//! save the grant (`proposed`), send the acceptance and wait for the result.

use serde::{Deserialize, Serialize};

use crate::state::Window;

/// `payer subscribe`'s first step: the terms behind a subscribe code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsRequest {
    /// `<code>@<merchant node id>@<host:port>`.
    pub code: String,
}

/// The subscriber's yes to terms fetched before, with their own caps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    /// Hex of the terms' offer id.
    pub offer_id: String,
    pub cap_msat: u64,
    pub window: Window,
    pub per_invoice_max_msat: Option<u64>,
    /// Unix seconds.
    pub ends_at: Option<i64>,
    pub label: Option<String>,
    pub email: Option<String>,
}

/// The merchant's terms, as the running payer hands them to `payer subscribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// Hex of the offer id (names these terms in the acceptance).
    pub offer_id: String,
    /// Hex of the merchant's node id (proven by the BOLT 8 handshake).
    pub merchant_node: String,
    pub merchant_address: String,
    pub merchant_id: String,
    pub merchant_name: String,
    /// The plan's name, or the account text of an account code.
    pub description: String,
    /// Per period; 0 for an account code without a plan.
    pub amount_msat: u64,
    /// The cap the merchant suggests per window.
    pub cap_msat: u64,
    pub window: Window,
    /// For people: "1 month", "every 7 days", a cron text.
    pub interval: String,
    pub trial_days: u64,
    /// What the first invoice asks at once (0 during a trial).
    pub due_now_msat: u64,
}

/// The merchant's answer to an acceptance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub grant_id: String,
    pub active: bool,
    pub subscription_id: Option<String>,
    pub customer_id: Option<String>,
    pub message: Option<String>,
}
