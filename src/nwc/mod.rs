//! Nostr Wallet Connect (NIP-47), the second auto-pay rail (docs/nwc.md):
//! a subscription whose payment method is `nwc` has each payment request
//! sent as `pay_invoice` to the subscriber's wallet; the invoice is paid
//! when the merchant's node receives the money, as with every rail.
//!
//! - `seal`: connection secrets sealed at rest with the deployment's key
//! - `wallet`: checking a connection, asking a wallet to pay (the `nwc` crate)
//! - `sandbox_relay`: the relay `serve` runs on the sandbox chain
//!
//! The node role's `node::nwc_sender` sends the due `nwc` attempts of the
//! push queue.

pub mod sandbox_relay;
pub mod seal;
pub mod wallet;
