//! The node role: the merchant's embedded LDK node and its chain access.
//!
//! - `node`: wiring (keys, channel manager, peers, chain sync, background processor)
//! - `events`: the one event handler
//! - `bitcoind`: chain access through bitcoind's JSON-RPC
//! - `operations`: what the merchant does with the node (peers, channels, invoices, paying)
//! - `billing`: the node's side of the billing books (issuing BOLT11, checking and settling payments)
//! - `push`: the push-invoice protocol (wire format, LDK handler, the merchant's sender)
//! - `payer`: the subscriber side, `pushbill payer`
//! - `role`: the node role of `pushbill serve`
//! - `simnet`: the regtest chain simulator that stands in for bitcoind

pub mod billing;
pub mod bitcoind;
mod dir_lock;
pub mod events;
mod logger;
pub mod node;
pub mod operations;
pub mod payer;
mod peers;
pub mod push;
pub mod role;
mod seed;
pub mod simnet;
mod types;

use lightning::types::payment::PaymentHash;

pub use node::{Node, NodeConfig};

/// Whether an incoming payment may be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Claim,
    Reject(String),
}

/// Where the node reports incoming payments: pushbill's billing books for the
/// merchant node. `Err` means "cannot tell now": the event is replayed later.
#[async_trait::async_trait]
pub trait PaymentSink: Send + Sync {
    /// Asked before an incoming payment is claimed.
    async fn may_claim(
        &self,
        payment_hash: &PaymentHash,
        amount_msat: u64,
    ) -> anyhow::Result<Verdict>;
    /// Told once the payment is claimed. Called again after a restart if the
    /// first call did not finish, so it must be idempotent.
    async fn claimed(&self, payment_hash: &PaymentHash, amount_msat: u64) -> anyhow::Result<()>;
    /// Told when an outgoing payment succeeded, before LDK forgets the event
    /// (`Err`: handed again later, also after a restart). Idempotent.
    async fn sent(&self, _payment_hash: &PaymentHash) -> anyhow::Result<()> {
        Ok(())
    }
    /// Told when an outgoing payment failed for good. Idempotent.
    async fn send_failed(&self, _payment_hash: &PaymentHash, _reason: &str) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A sink for a node that does not take payments (a paying subscriber node).
pub struct RefuseIncoming;

#[async_trait::async_trait]
impl PaymentSink for RefuseIncoming {
    async fn may_claim(&self, _: &PaymentHash, _: u64) -> anyhow::Result<Verdict> {
        Ok(Verdict::Reject("this node does not take payments".into()))
    }
    async fn claimed(&self, payment_hash: &PaymentHash, amount_msat: u64) -> anyhow::Result<()> {
        tracing::error!(payment_hash = %payment_hash, amount_msat, "claimed a payment this node should have refused");
        Ok(())
    }
}
