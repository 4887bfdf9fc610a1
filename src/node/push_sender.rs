//! The merchant's side: the node role claims due pushes, connects to each
//! customer's node if needed, checks that it advertises the feature bit,
//! sends `push_invoice` and waits for `push_reply`; how it ended is recorded
//! by [`super::push_queue::finish`] (with its event), and a push that was not
//! delivered is tried again with a doubling back-off until its tries run out.
//!
//! Each push is tried on its own task ([`super::send_loop::run`]), at most
//! [`PushPolicy::max_in_flight`] at once, and recorded as soon as its own
//! try ends: a subscriber that never answers holds its own push (and one
//! slot) until the reply timeout, never anyone else's.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use sea_orm::DatabaseConnection;

use super::push_queue::{self as queue, Claimed, Outcome};
use super::send_loop::Sender;
use crate::clock::Clock;
use crate::domain::NodeAddress;
use crate::domain::Rail;
use ln_node::Node;
use ln_node::operations::resolve_address;
use push_protocol::handler::PushMessage;
use push_protocol::wire::{PushInvoice, ReplyStatus};

pub use super::push_queue::PushPolicy;

pub struct PushSender {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub node: Arc<Node>,
    pub policy: PushPolicy,
}

impl PushSender {
    /// One round, all in this task: records late answers, then tries the
    /// due pushes (at most `max_in_flight`) side by side, each recorded as
    /// soon as it ends, and returns once all have. Returns how many were
    /// tried. The node role runs [`super::send_loop::run`] instead, which claims more as
    /// soon as a slot frees up.
    pub async fn run_once(&self) -> crate::error::Result<usize> {
        self.record_late_replies().await?;
        super::send_loop::run_once(self).await
    }

    /// Records the answers that came after `accepted` or `pending_approval`
    /// (`paid`, `rejected`).
    async fn record_late_replies(&self) -> crate::error::Result<()> {
        for (from, reply) in self.node.take_late_push_replies() {
            queue::record_late_reply(&self.db, self.clock.now(), &from.to_string(), &reply).await?;
        }
        Ok(())
    }

    /// One try of one claimed push, recorded (with its event) when it ends.
    async fn try_push(&self, c: Claimed) -> crate::error::Result<()> {
        let outcome = self.deliver(&c).await;
        tracing::info!(push = %c.push.id, outcome = ?outcome, "push tried");
        queue::finish(
            &self.db,
            self.clock.now(),
            &c,
            outcome,
            self.policy.max_tries,
            self.policy.backoff,
        )
        .await
    }

    /// One try of one push.
    async fn deliver(&self, c: &Claimed) -> Outcome {
        let bolt11 = match c.payable() {
            Ok(bolt11) => bolt11,
            Err(outcome) => return outcome,
        };
        let Ok(node_id) = PublicKey::from_str(&c.push.node_id) else {
            return Outcome::Dropped {
                reason: "bad_node_id".into(),
            };
        };
        // Texts are cut to the protocol's bounds by `encode`; a BOLT11
        // cannot be cut (ours, with at most the customer's own route hints
        // and a 639-byte description, are far below the bound).
        let message = PushInvoice {
            push_id: c.push_id,
            invoice: bolt11.to_string(),
            amount_msat: u64::try_from(c.request.amount_msat).unwrap_or_default(),
            merchant_name: c.merchant_name.clone(),
            invoice_number: c.invoice.number.clone(),
            plan_name: c.plan_name.clone(),
            period_start: c
                .invoice
                .period_start
                .and_then(|t| u64::try_from(t.timestamp()).ok()),
            period_end: c
                .invoice
                .period_end
                .and_then(|t| u64::try_from(t.timestamp()).ok()),
        };
        if !message.invoice_fits() {
            return Outcome::Dropped {
                reason: "invoice_too_long".into(),
            };
        }
        if self.node.peer_supports_push(&node_id).is_none()
            && let Err(reason) = self.connect(node_id, c.node_address.as_deref()).await
        {
            return Outcome::NotDelivered { reason };
        }
        match self.node.peer_supports_push(&node_id) {
            Some(true) => {}
            Some(false) => {
                return Outcome::NotDelivered {
                    reason: "unsupported",
                };
            }
            None => {
                return Outcome::NotDelivered {
                    reason: "unreachable",
                };
            }
        }
        let reply = self.node.expect_push_reply(c.push_id, node_id);
        self.node
            .send_push_message(node_id, PushMessage::Invoice(message));
        match tokio::time::timeout(self.policy.reply_timeout, reply).await {
            Ok(Ok(reply)) => match reply.status {
                ReplyStatus::Rejected(reason) => Outcome::Rejected {
                    reason: reason.name(),
                },
                status => Outcome::Pushed {
                    status: status.as_str(),
                },
            },
            _ => {
                self.node.forget_push_reply(&c.push_id);
                Outcome::NotDelivered { reason: "timeout" }
            }
        }
    }

    /// Connects to the customer's node at the address the merchant gave.
    async fn connect(&self, node_id: PublicKey, address: Option<&str>) -> Result<(), &'static str> {
        connect(&self.node, node_id, address).await
    }
}

/// Connects `node` to `node_id` at `address` (`node_id@host:port`, the
/// customer's `node_address`; its node id must be `node_id`), and waits for
/// the peer's init message. `no_address` or `unreachable` when it cannot.
pub(crate) async fn connect(
    node: &Node,
    node_id: PublicKey,
    address: Option<&str>,
) -> Result<(), &'static str> {
    let address = address
        .and_then(|a| NodeAddress::parse(a).ok())
        .filter(|a| a.node_id.to_public_key() == node_id)
        .ok_or("no_address")?;
    let host_port = match address.host.contains(':') {
        true => format!("[{}]:{}", address.host, address.port),
        false => format!("{}:{}", address.host, address.port),
    };
    let addr = resolve_address("node_address", &host_port)
        .await
        .map_err(|_| "unreachable")?;
    node.connect_peer(node_id, addr)
        .await
        .map_err(|_| "unreachable")?;
    // The peer's init message (its features) arrives with the handshake.
    for _ in 0..20 {
        if node.peer_supports_push(&node_id).is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("unreachable")
}

#[async_trait::async_trait]
impl Sender for PushSender {
    fn slots(&self) -> usize {
        self.policy.max_in_flight
    }
    async fn before_claim(&self) {
        if let Err(e) = self.record_late_replies().await {
            tracing::error!(error = %e, "recording late push replies failed; retrying");
        }
    }
    async fn claim(&self, limit: usize) -> crate::error::Result<Vec<Claimed>> {
        queue::claim_for(&self.db, Rail::Push, self.clock.now(), &self.policy, limit).await
    }
    async fn try_one(&self, claimed: Claimed) -> crate::error::Result<()> {
        self.try_push(claimed).await
    }
}
