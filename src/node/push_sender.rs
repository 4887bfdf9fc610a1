//! The merchant's side: the node role claims due pushes, connects to each
//! customer's node if needed, checks that it advertises the feature bit,
//! sends `push_invoice` and waits for `push_reply`; how it ended is recorded
//! by [`super::push_queue::finish`] (with its event), and a push that was not
//! delivered is tried again with a doubling back-off until its tries run out.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use chrono::Utc;
use lightning_invoice::Bolt11Invoice;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use super::push_queue::{self as queue, Claimed, Outcome};
use crate::clock::Clock;
use crate::domain::NodeAddress;
use crate::domain::{InvoiceStatus, PaymentRequestStatus};
use ln_node::Node;
use ln_node::operations::resolve_address;
use push_protocol::handler::PushMessage;
use push_protocol::wire::{PushInvoice, ReplyStatus};

/// How pushes are delivered.
#[derive(Debug, Clone)]
pub struct PushPolicy {
    /// How long to wait for `push_reply`.
    pub reply_timeout: Duration,
    /// Tries before a push that cannot be delivered fails.
    pub max_tries: i32,
    /// Wait before the second try; doubled for each further one.
    pub backoff: chrono::Duration,
    /// Pushes sent at once.
    pub batch: u64,
}

pub struct PushSender {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub node: Arc<Node>,
    pub policy: PushPolicy,
}

impl PushSender {
    /// One round: records late answers (`paid`, `rejected`), then delivers
    /// the due pushes. Returns how many pushes were tried.
    pub async fn run_once(&self) -> crate::error::Result<usize> {
        for (from, reply) in self.node.take_late_push_replies() {
            queue::record_late_reply(&self.db, self.clock.now(), &from.to_string(), &reply).await?;
        }
        // The lease covers connecting, the reply timeout and a margin.
        let lease = chrono::Duration::from_std(self.policy.reply_timeout)
            .unwrap_or(chrono::Duration::seconds(30))
            + chrono::Duration::seconds(30);
        let claimed = queue::claim_due(
            &self.db,
            self.clock.now(),
            Utc::now(),
            lease,
            self.policy.batch,
        )
        .await?;
        let outcomes = futures::future::join_all(claimed.iter().map(|c| self.deliver(c))).await;
        for (c, outcome) in claimed.iter().zip(outcomes) {
            tracing::info!(push = %c.push.id, outcome = ?outcome, "push tried");
            queue::finish(
                &self.db,
                self.clock.now(),
                c,
                outcome,
                self.policy.max_tries,
                self.policy.backoff,
            )
            .await?;
        }
        Ok(claimed.len())
    }

    /// One try of one push.
    async fn deliver(&self, c: &Claimed) -> Outcome {
        if c.invoice.status != InvoiceStatus::Open.as_str() {
            return Outcome::Dropped {
                reason: format!("invoice_{}", c.invoice.status),
            };
        }
        if c.request.status != PaymentRequestStatus::Issued.as_str() {
            return Outcome::Dropped {
                reason: format!("payment_request_{}", c.request.status),
            };
        }
        let Some(bolt11) = c
            .request
            .bolt11
            .as_deref()
            .and_then(|b| Bolt11Invoice::from_str(b).ok())
        else {
            return Outcome::Dropped {
                reason: "no_invoice".into(),
            };
        };
        // The payer checks expiry against real time, so does the sender.
        if ln_node::push::is_expired(&bolt11) {
            return Outcome::Dropped {
                reason: "expired".into(),
            };
        }
        let Ok(node_id) = PublicKey::from_str(&c.push.node_id) else {
            return Outcome::Dropped {
                reason: "bad_node_id".into(),
            };
        };
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

/// The node role's push loop: a round every `every`, until `shutdown`.
pub async fn run(sender: PushSender, every: Duration, shutdown: CancellationToken) {
    loop {
        loop {
            match sender.run_once().await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "pushing invoices failed; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
