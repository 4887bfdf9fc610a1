//! The subscribe handshake from the subscriber's side (docs/push-invoices.md,
//! "Subscribe"): `payer subscribe CODE` asks the running payer for the
//! merchant's terms, shows them, and on the subscriber's yes has the payer
//! save the grant (`proposed`), send the acceptance and wait for the result.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bitcoin::secp256k1::PublicKey;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::Core;
use crate::control::{Reply, short};
use crate::state::{EndedBy, Grant, GrantStatus, Window};
use ln_node::Node;
use push_protocol::grant::{GrantId, OfferId, SubscribeCode};
use push_protocol::subscribe::{self as wire, GrantMessage};

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

impl From<wire::Window> for Window {
    fn from(w: wire::Window) -> Self {
        match w {
            wire::Window::Minute => Window::Minute,
            wire::Window::Hour => Window::Hour,
            wire::Window::Day => Window::Day,
            wire::Window::Week => Window::Week,
            wire::Window::Month => Window::Month,
        }
    }
}

impl From<Window> for wire::Window {
    fn from(w: Window) -> Self {
        match w {
            Window::Minute => wire::Window::Minute,
            Window::Hour => wire::Window::Hour,
            Window::Day => wire::Window::Day,
            Window::Week => wire::Window::Week,
            Window::Month => wire::Window::Month,
        }
    }
}

/// How long the payer waits for the merchant's terms or result.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an unanswered acceptance or grant end is sent again.
pub(crate) const NOTICE_EVERY: Duration = Duration::from_secs(60);

/// The handshakes in flight: who waits for which answer, and the terms
/// fetched (kept while the payer runs, for the acceptance that follows).
#[derive(Default)]
pub(crate) struct Handshakes {
    terms: Mutex<HashMap<(PublicKey, String), oneshot::Sender<wire::SubscribeTerms>>>,
    results: Mutex<HashMap<String, oneshot::Sender<wire::SubscribeResult>>>,
    offers: Mutex<HashMap<String, Terms>>,
    /// When each grant's notice (acceptance or end) last went, and whether its
    /// merchant was connected then: a notice goes again on a new connection
    /// and every [`NOTICE_EVERY`].
    notices: Mutex<HashMap<String, (tokio::time::Instant, bool)>>,
}

/// `payer subscribe`, step 1: connect to the code's merchant, ask, wait for the terms.
pub(crate) async fn fetch_terms(node: &Node, core: &Core, request: &TermsRequest) -> Reply {
    match try_fetch_terms(node, core, request).await {
        Ok(terms) => Reply {
            data: serde_json::to_value(&terms).ok(),
            ..Reply::ok(format!("terms of {}", terms.merchant_name))
        },
        Err(e) => Reply::refused(format!("{e:#}")),
    }
}

async fn try_fetch_terms(
    node: &Node,
    core: &Core,
    request: &TermsRequest,
) -> anyhow::Result<Terms> {
    let code = SubscribeCode::parse(&request.code).map_err(|e| anyhow!("the code: {e}"))?;
    let merchant = node
        .connect(&code.node_id, &code.address)
        .await
        .map_err(|e| anyhow!("cannot reach the merchant: {e}"))?;
    let merchant = PublicKey::from_str(&merchant.node_id).context("the merchant's node id")?;
    let (tx, rx) = oneshot::channel();
    core.handshakes
        .terms
        .lock()
        .expect("handshakes")
        .insert((merchant, code.code.clone()), tx);
    let mut listen = node.listen_addr();
    if listen.ip().is_unspecified() {
        listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    node.send_grant_message(
        merchant,
        GrantMessage::SubscribeRequest(wire::SubscribeRequest {
            code: code.code.clone(),
            node_address: Some(listen.to_string()),
        }),
    );
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, rx).await;
    core.handshakes
        .terms
        .lock()
        .expect("handshakes")
        .remove(&(merchant, code.code.clone()));
    let terms = match answer {
        Ok(Ok(terms)) => terms,
        _ => bail!(
            "the merchant's node did not answer within {}s",
            ANSWER_TIMEOUT.as_secs()
        ),
    };
    let offer = match terms.reply {
        wire::TermsReply::Offer(offer) => offer,
        wire::TermsReply::Error(e) => bail!("the merchant says: {e}"),
    };
    let terms = Terms {
        offer_id: offer.offer_id.to_hex(),
        merchant_node: merchant.to_string(),
        merchant_address: code.address,
        merchant_id: offer.merchant_id,
        merchant_name: offer.merchant_name,
        description: offer.description,
        amount_msat: offer.amount_msat,
        cap_msat: offer.cap_msat,
        window: offer.window.into(),
        interval: offer.interval.unwrap_or_default(),
        trial_days: offer.trial_days.unwrap_or(0),
        due_now_msat: offer.due_now_msat.unwrap_or(0),
    };
    core.handshakes
        .offers
        .lock()
        .expect("handshakes")
        .insert(terms.offer_id.clone(), terms.clone());
    Ok(terms)
}

/// `payer subscribe`, step 2: the grant is saved (`proposed`) before the
/// acceptance goes; the merchant's result makes it active (or removes it).
pub(crate) async fn accept(node: &Node, core: &Core, acceptance: &Acceptance) -> Reply {
    match try_accept(node, core, acceptance).await {
        Ok(outcome) => Reply {
            data: serde_json::to_value(&outcome).ok(),
            ..Reply::ok(match outcome.active {
                true => "subscribed",
                false => "refused",
            })
        },
        Err(e) => Reply::refused(format!("{e:#}")),
    }
}

async fn try_accept(node: &Node, core: &Core, acceptance: &Acceptance) -> anyhow::Result<Outcome> {
    let terms = core
        .handshakes
        .offers
        .lock()
        .expect("handshakes")
        .remove(&acceptance.offer_id)
        .context("these terms are not known to the running payer: fetch them again")?;
    if acceptance.cap_msat == 0 {
        bail!("the cap must be above 0");
    }
    let now = core.now();
    let grant = Grant {
        id: GrantId::random().to_hex(),
        payee: terms.merchant_node.clone(),
        merchant_id: terms.merchant_id.clone(),
        merchant_name: terms.merchant_name.clone(),
        subscription_id: None,
        customer_id: None,
        description: Some(terms.description.clone()),
        label: acceptance.label.clone(),
        cap_msat: acceptance.cap_msat,
        window: acceptance.window,
        per_invoice_max_msat: acceptance.per_invoice_max_msat,
        ends_at: acceptance.ends_at,
        status: GrantStatus::Proposed,
        ended_by: None,
        end_notice_pending: false,
        created_at: now.timestamp(),
        offer_id: Some(terms.offer_id.clone()),
        merchant_address: Some(terms.merchant_address.clone()),
        email: acceptance.email.clone(),
    };
    core.update(|s| s.grants.push(grant.clone()))?;
    let (tx, rx) = oneshot::channel();
    core.handshakes
        .results
        .lock()
        .expect("handshakes")
        .insert(grant.id.clone(), tx);
    send_notice(node, core, &grant).await;
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, rx).await;
    core.handshakes
        .results
        .lock()
        .expect("handshakes")
        .remove(&grant.id);
    let Ok(Ok(result)) = answer else {
        bail!(
            "the merchant did not answer within {}s; grant {} stays proposed and the payer asks again every minute",
            ANSWER_TIMEOUT.as_secs(),
            short(&grant.id)
        );
    };
    Ok(Outcome {
        grant_id: grant.id,
        active: result.status == wire::ResultStatus::Active,
        subscription_id: result.subscription_id,
        customer_id: result.customer_id,
        message: result.message,
    })
}

/// What a grant still has to tell its merchant: the acceptance of a
/// proposed grant, or the end of one ended here.
fn notice(grant: &Grant) -> Option<GrantMessage> {
    let id = GrantId::from_hex(&grant.id)?;
    if grant.end_notice_pending {
        return Some(GrantMessage::GrantEnd(wire::GrantEnd {
            grant_id: id,
            ended_by: wire::EndedBy::Subscriber,
            message: None,
        }));
    }
    if grant.status != GrantStatus::Proposed {
        return None;
    }
    Some(GrantMessage::SubscribeAccept(wire::SubscribeAccept {
        offer_id: OfferId::from_hex(grant.offer_id.as_deref()?)?,
        grant_id: id,
        cap_msat: grant.cap_msat,
        window: grant.window.into(),
        per_invoice_max_msat: grant.per_invoice_max_msat,
        ends_at: grant.ends_at.and_then(|t| u64::try_from(t).ok()),
        email: grant.email.clone(),
    }))
}

/// Connects to the grant's merchant if need be and sends its notice.
async fn send_notice(node: &Node, core: &Core, grant: &Grant) {
    let Some(message) = notice(grant) else {
        return;
    };
    let Ok(merchant) = PublicKey::from_str(&grant.payee) else {
        return;
    };
    if node.peer_supports_push(&merchant).is_none() {
        let Some(address) = grant.merchant_address.as_deref() else {
            return;
        };
        if let Err(e) = node.connect(&grant.payee, address).await {
            tracing::debug!(grant = %grant.id, error = %e, "merchant not reachable");
            return;
        }
    }
    tracing::info!(grant = %grant.id, message_type = message.type_id(), "grant notice sent");
    node.send_grant_message(merchant, message);
    core.handshakes
        .notices
        .lock()
        .expect("handshakes")
        .insert(grant.id.clone(), (tokio::time::Instant::now(), true));
}

/// Sends the notices that are due: to a merchant newly connected, or
/// unanswered for [`NOTICE_EVERY`].
pub(crate) async fn send_due_notices(node: &Node, core: &Core) {
    let grants: Vec<Grant> = {
        let state = core.state.lock().expect("payer state");
        state
            .grants
            .iter()
            .filter(|g| notice(g).is_some())
            .cloned()
            .collect()
    };
    for grant in grants {
        let connected = PublicKey::from_str(&grant.payee)
            .is_ok_and(|pk| node.peer_supports_push(&pk).is_some());
        let last = core
            .handshakes
            .notices
            .lock()
            .expect("handshakes")
            .get(&grant.id)
            .copied();
        let due = match last {
            None => true,
            Some((at, was_connected)) => {
                (connected && !was_connected) || at.elapsed() >= NOTICE_EVERY
            }
        };
        if due {
            send_notice(node, core, &grant).await;
        } else if let Some(entry) = core
            .handshakes
            .notices
            .lock()
            .expect("handshakes")
            .get_mut(&grant.id)
        {
            entry.1 = connected;
        }
    }
}

/// A handshake or grant-end message from `peer` (its node id proven by
/// BOLT 8). Only the grant's own merchant node can change a grant.
pub(crate) fn on_message(node: &Node, core: &Core, peer: PublicKey, message: GrantMessage) {
    let peer_hex = peer.to_string();
    match message {
        GrantMessage::SubscribeTerms(terms) => {
            let waiter = core
                .handshakes
                .terms
                .lock()
                .expect("handshakes")
                .remove(&(peer, terms.code.clone()));
            match waiter {
                Some(tx) => {
                    let _ = tx.send(terms);
                }
                None => tracing::debug!(peer = %peer_hex, "terms nobody asked for ignored"),
            }
        }
        GrantMessage::SubscribeResult(result) => {
            let id = result.grant_id.to_hex();
            let offer = result.offer_id.to_hex();
            let active = result.status == wire::ResultStatus::Active;
            let applied = core.update(|s| {
                let Some(grant) = s.grant_mut(&id).filter(|g| {
                    g.payee == peer_hex
                        && g.status == GrantStatus::Proposed
                        && g.offer_id.as_deref() == Some(offer.as_str())
                }) else {
                    return false;
                };
                if active {
                    grant.status = GrantStatus::Active;
                    grant.subscription_id = result.subscription_id.clone();
                    grant.customer_id = result.customer_id.clone();
                } else {
                    s.grants.retain(|g| g.id != id);
                }
                true
            });
            match applied {
                Ok(true) => {
                    tracing::info!(grant = %id, status = result.status.as_str(), "subscribe result");
                    core.handshakes
                        .notices
                        .lock()
                        .expect("handshakes")
                        .remove(&id);
                    let waiter = core
                        .handshakes
                        .results
                        .lock()
                        .expect("handshakes")
                        .remove(&id);
                    if let Some(tx) = waiter {
                        let _ = tx.send(result);
                    }
                }
                Ok(false) => {
                    tracing::debug!(grant = %id, "a result for no proposed grant of this merchant")
                }
                Err(e) => tracing::error!(error = %e, "cannot record a subscribe result"),
            }
        }
        GrantMessage::GrantEnd(end) => {
            let id = end.grant_id.to_hex();
            let now = core.now();
            let saved = core.update(|s| {
                if let Some(grant) = s.grant_mut(&id).filter(|g| g.payee == peer_hex)
                    && grant.status != GrantStatus::Ended
                {
                    grant.status = GrantStatus::Ended;
                    grant.ended_by = Some(match end.ended_by {
                        wire::EndedBy::Subscriber => EndedBy::Subscriber,
                        wire::EndedBy::Merchant => EndedBy::Merchant,
                    });
                    grant.ends_at = Some(
                        grant
                            .ends_at
                            .map_or(now.timestamp(), |t| t.min(now.timestamp())),
                    );
                    tracing::info!(grant = %id, "the merchant ended the grant");
                }
            });
            // Applied (or nothing to apply): acknowledged; not saved: the
            // merchant sends it again.
            match saved {
                Ok(()) => node.send_grant_message(
                    peer,
                    GrantMessage::GrantEndAck(wire::GrantEndAck {
                        grant_id: end.grant_id,
                    }),
                ),
                Err(e) => tracing::error!(error = %e, "cannot record a grant end"),
            }
        }
        GrantMessage::GrantEndAck(ack) => {
            let id = ack.grant_id.to_hex();
            let saved = core.update(|s| {
                if let Some(grant) = s.grant_mut(&id).filter(|g| g.payee == peer_hex) {
                    grant.end_notice_pending = false;
                }
            });
            if let Err(e) = saved {
                tracing::error!(error = %e, "cannot record a grant end's ack");
            }
            core.handshakes
                .notices
                .lock()
                .expect("handshakes")
                .remove(&id);
        }
        GrantMessage::SubscribeRequest(_) | GrantMessage::SubscribeAccept(_) => {
            tracing::debug!(peer = %peer_hex, "a merchant's message sent to a payer ignored");
        }
    }
}
