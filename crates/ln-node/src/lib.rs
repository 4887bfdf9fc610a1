//! The LDK node that pushbill's merchant service and the subscriber's payer
//! both run, wired the way ldk-sample does it.
//!
//! - `node`: the builder, in numbered steps (keys, chain access, channel
//!   manager, peers, chain sync, background processor), and the running [`Node`]
//! - `events`: the one event handler, reporting payments to a [`PaymentSink`]
//! - `bitcoind`: chain access through bitcoind's JSON-RPC
//! - `operations`: what an operator does with the node (peers, channels, invoices, paying)
//! - `push`: sending and awaiting push-invoice messages (the wire format is
//!   the `push-protocol` crate)
//! - `address`: node ids and `pubkey@host:port` addresses

pub mod address;
pub mod bitcoind;
pub mod events;
mod logger;
mod node;
pub mod operations;
mod peers;
pub mod push;
mod seed;
mod types;

use lightning::types::payment::PaymentHash;

pub use address::{NodeAddress, NodeError, NodeId};
pub use node::{Inboxes, Node, NodeConfig};
pub use operations::{InvoiceError, OpError};

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
