//! The node role's grant messages (docs/push-invoices.md section 4): it
//! answers the subscribe handshake ([`super::subscribe`]), applies the
//! subscriber's `grant_end` (the subscription then cancels at period end)
//! and acknowledges it, and tells subscribers' nodes about grants ended on
//! the merchant's side with `grant_end` (within seconds to a connected
//! node, again whenever it connects, and to every such node every minute,
//! connecting to it), until `grant_end_ack` comes back.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bitcoin::secp256k1::PublicKey;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, EntityTrait};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::push_sender;
use super::subscribe;
use crate::billing::{grants, lifecycle};
use crate::clock::Clock;
use crate::domain::{NodeId, SubscriptionStatus};
use crate::error::{Error, Result};
use crate::store::events::EventBatch;
use crate::store::{self, customers, subscriptions};
use ln_node::Node;
use push_protocol::grant::GrantId;
use push_protocol::handler::IncomingGrantMessage;
use push_protocol::subscribe::{EndedBy, GrantEnd, GrantEndAck, GrantMessage};

/// How often ended grants are announced again to nodes that have not
/// acknowledged, connecting to them if needed.
pub const NOTICE_EVERY: Duration = Duration::from_secs(60);
/// How often the node looks for newly connected nodes owed a notice.
const CONNECTED_CHECK: Duration = Duration::from_secs(2);

pub struct GrantService {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub node: Arc<Node>,
}

impl GrantService {
    /// Handles one incoming message from `peer`; the answer, if any, is sent
    /// to that peer. A database error leaves it unanswered (the subscriber's
    /// node asks again).
    pub async fn handle(&self, peer: PublicKey, message: GrantMessage) {
        let now = self.clock.now();
        let Ok(node_id) = NodeId::from_bytes(peer.serialize()) else {
            return;
        };
        let answer = match message {
            GrantMessage::SubscribeRequest(request) => {
                subscribe::terms(&self.db, now, &node_id, &request)
                    .await
                    .map(|t| Some(GrantMessage::SubscribeTerms(t)))
            }
            GrantMessage::SubscribeAccept(accept) => {
                subscribe::accept(&self.db, now, &node_id, &accept)
                    .await
                    .map(|r| Some(GrantMessage::SubscribeResult(r)))
            }
            GrantMessage::GrantEnd(end) => subscriber_ended(&self.db, now, &node_id, &end)
                .await
                .map(|()| {
                    Some(GrantMessage::GrantEndAck(GrantEndAck {
                        grant_id: end.grant_id,
                    }))
                }),
            GrantMessage::GrantEndAck(ack) => {
                grants::acknowledge_end(&self.db, &node_id.to_string(), &ack.grant_id)
                    .await
                    .map(|_| None)
            }
            GrantMessage::SubscribeTerms(_) | GrantMessage::SubscribeResult(_) => {
                tracing::debug!(peer = %peer, "a payer's message sent to the merchant: ignored");
                Ok(None)
            }
        };
        match answer {
            Ok(Some(answer)) => self.node.send_grant_message(peer, answer),
            Ok(None) => {}
            Err(e) => tracing::error!(peer = %peer, error = %e, "grant message not handled"),
        }
    }

    /// Sends `grant_end` for every ended grant whose node has not
    /// acknowledged it and that is not in `sent` (grant id -> node, sent to
    /// while that node stayed connected): to nodes that are connected, and
    /// with `connect`, to the others after connecting (at the customer's
    /// `node_address`). Adds what it sent to `sent`.
    pub async fn send_end_notices(
        &self,
        connect: bool,
        sent: &mut HashMap<String, PublicKey>,
    ) -> Result<()> {
        for grant in grants::pending_end_notices(&self.db).await? {
            let Ok(peer) = PublicKey::from_str(&grant.node_id) else {
                continue;
            };
            if sent.contains_key(&grant.id) {
                continue;
            }
            if self.node.peer_supports_push(&peer).is_none() {
                if !connect {
                    continue;
                }
                let address = customers::Entity::find_by_id(&grant.customer_id)
                    .one(&self.db)
                    .await?
                    .and_then(|c| c.node_address);
                if let Err(reason) =
                    push_sender::connect(&self.node, peer, address.as_deref()).await
                {
                    tracing::debug!(grant = %grant.id, reason, "grant end not delivered");
                    continue;
                }
            }
            let Some(grant_id) = GrantId::from_hex(&grant.grant_key) else {
                return Err(Error::corrupt(format!("grant {}: grant_key", grant.id)));
            };
            self.node.send_grant_message(
                peer,
                GrantMessage::GrantEnd(GrantEnd {
                    grant_id,
                    ended_by: EndedBy::Merchant,
                    message: Some("the subscription was canceled".into()),
                }),
            );
            sent.insert(grant.id, peer);
        }
        Ok(())
    }
}

/// The subscriber's node ended a grant: the grant ends (`grant.revoked`)
/// and its subscription is set to cancel at the end of its period
/// (`subscription.updated`), in one transaction. A grant that already ended,
/// or that this node did not make, changes nothing (and is acknowledged all
/// the same).
pub async fn subscriber_ended(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    peer: &NodeId,
    end: &GrantEnd,
) -> Result<()> {
    let txn = store::begin_write(db).await?;
    let Some(grant) = grants::lock_by_key(&txn, &peer.to_string(), &end.grant_id).await? else {
        return Ok(());
    };
    let mut events = EventBatch::new();
    let Some(grant) = grants::revoke(&txn, now, grant, &mut events).await? else {
        return Ok(());
    };
    events.insert(&txn).await?;
    if let Some(sub_id) = &grant.subscription_id {
        let sub = subscriptions::Entity::find_by_id(sub_id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::corrupt(format!("grant {}: subscription missing", grant.id)))?;
        let ending =
            sub.cancel_at_period_end || sub.status == SubscriptionStatus::Canceled.as_str();
        if !ending {
            lifecycle::cancel_in(&txn, now, &grant.merchant_id, sub_id, true).await?;
        }
    }
    txn.commit().await?;
    tracing::info!(grant = %grant.id, "grant revoked by the subscriber");
    Ok(())
}

/// The node role's grant loop until `shutdown`: answers incoming messages,
/// sends each pending `grant_end` to its node once while it stays
/// connected (again when it connects anew), and to all of them, connecting,
/// every [`NOTICE_EVERY`].
pub async fn run(
    service: GrantService,
    mut inbox: mpsc::UnboundedReceiver<IncomingGrantMessage>,
    shutdown: CancellationToken,
) {
    let mut sent: HashMap<String, PublicKey> = HashMap::new();
    let mut last_round: Option<Instant> = None;
    let mut tick = tokio::time::interval(CONNECTED_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            message = inbox.recv() => match message {
                Some((peer, message)) => service.handle(peer, message).await,
                None => return,
            },
            _ = tick.tick() => {
                let full = last_round.is_none_or(|t| t.elapsed() >= NOTICE_EVERY);
                if full {
                    sent.clear();
                    last_round = Some(Instant::now());
                } else {
                    // A node that disconnected gets its notice again when it is back.
                    sent.retain(|_, peer| service.node.peer_supports_push(peer).is_some());
                }
                if let Err(e) = service.send_end_notices(full, &mut sent).await {
                    tracing::error!(error = %e, "sending grant ends failed");
                }
            }
        }
    }
}
