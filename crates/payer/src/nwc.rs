//! The payer as a Nostr Wallet Connect (NIP-47) wallet service: a second
//! way for merchants to be paid automatically, for subscribers whose
//! merchant sends `pay_invoice` requests over a nostr relay.
//!
//! Each connection ([`NwcConnection`]) has its own wallet service key (the
//! URI's host), serves one client key (the URI's secret is handed out once
//! and forgotten) and a budget per window. One nostr client per payer is
//! connected to the union of the connections' relays and subscribed to
//! kind-23194 requests naming the connections' wallet keys; each answer is a
//! kind-23195 event signed by that connection's key, encrypted with the
//! request's cipher (NIP-44 v2 when the request says so, else NIP-04).
//!
//! - `get_info`: alias, network, node id, block, methods
//!   (`pay_invoice get_info get_balance`).
//! - `get_balance`: what is left of the connection's budget in its current
//!   window, in msat (as Primal does: the budget, not the node's balance).
//! - `pay_invoice`: the BOLT11 is checked (network, expiry, amount), then
//!   the budget; the payment is recorded as paying in the payer's one
//!   `payments` map (by payment hash, shared with pushes) before it leaves,
//!   and paid by the node as pushes are. A hash paid before is answered
//!   with its kept preimage, never paid again.
//!
//! Requests from another key than the connection's client, and requests
//! of a revoked connection, are answered `UNAUTHORIZED`. No secret and no
//! preimage is logged.

use std::collections::{BTreeSet, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use lightning::ln::channelmanager::{Bolt11PaymentError, RetryableSendFailure};
use lightning::types::payment::PaymentHash;
use lightning_invoice::Bolt11Invoice;
use nwc::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::control::Command;
use crate::state::{
    BudgetWindow, CheckedInvoice, NwcConnection, NwcDecision, NwcRefusal, NwcStatus, Status,
};
use crate::{Core, PAYMENT_RETRY};
use ln_node::Node;

/// The methods this wallet service answers.
pub const METHODS: &str = "pay_invoice get_info get_balance get_budget";
/// How often a request waiting on a payment in flight looks at the state.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(100);

/// A new wallet connection, as the subscriber gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NwcSpec {
    /// A name to recognise it by (e.g. the merchant's).
    pub name: Option<String>,
    /// What may be paid per window, in msat (above 0).
    pub budget_msat: u64,
    /// Monthly by default.
    pub window: BudgetWindow,
    /// Relay URLs (`ws://` or `wss://`), at least one.
    pub relays: Vec<String>,
}

/// A connection to add (the command a CLI or [`crate::Payer::nwc_connect`]
/// applies): the wallet service's keys are made by whoever makes the URI,
/// so the client's secret never reaches the payer's files.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NwcAdd {
    pub id: String,
    pub name: Option<String>,
    /// Hex of the wallet service's secret key (secret).
    pub wallet_secret: String,
    pub client_pubkey: String,
    pub relays: Vec<String>,
    pub budget_msat: u64,
    pub window: BudgetWindow,
}

impl std::fmt::Debug for NwcAdd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NwcAdd")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("wallet_secret", &"<secret>")
            .field("client_pubkey", &self.client_pubkey)
            .field("relays", &self.relays)
            .field("budget_msat", &self.budget_msat)
            .field("window", &self.window)
            .finish()
    }
}

impl NwcAdd {
    /// The connection this adds, at `now`.
    pub fn connection(&self, now: DateTime<Utc>) -> anyhow::Result<NwcConnection> {
        let keys = Keys::parse(&self.wallet_secret).context("the wallet service's key")?;
        PublicKey::from_hex(&self.client_pubkey).context("the client's public key")?;
        if self.relays.is_empty() {
            bail!("give at least one relay");
        }
        if self.budget_msat == 0 {
            bail!("the budget must be above 0");
        }
        Ok(NwcConnection {
            id: self.id.clone(),
            name: self.name.clone(),
            wallet_secret: self.wallet_secret.clone(),
            wallet_pubkey: keys.public_key().to_hex(),
            client_pubkey: self.client_pubkey.clone(),
            relays: self.relays.clone(),
            budget_msat: self.budget_msat,
            window: self.window,
            status: NwcStatus::Active,
            created_at: now.timestamp(),
            revoked_at: None,
        })
    }
}

/// Makes the keys of a new connection: the command that adds it (holding
/// the wallet service's key and the client's public key) and the
/// `nostr+walletconnect://` URI (holding the client's secret: show it once,
/// never log it).
pub fn new_connection(spec: &NwcSpec) -> anyhow::Result<(Command, String)> {
    let mut relays = Vec::new();
    for r in &spec.relays {
        let url = RelayUrl::parse(r.trim()).with_context(|| format!("not a relay URL: {r}"))?;
        relays.push(url);
    }
    if relays.is_empty() {
        bail!("give at least one relay (--relay ws://...)");
    }
    if spec.budget_msat == 0 {
        bail!("the budget must be above 0");
    }
    let wallet = Keys::generate();
    let client = Keys::generate();
    let uri = NostrWalletConnectUri::new(
        wallet.public_key(),
        relays.clone(),
        client.secret_key().clone(),
        None,
    );
    let add = NwcAdd {
        id: format!("nwc_{}", ulid::Ulid::new().to_string().to_ascii_lowercase()),
        name: spec.name.clone(),
        wallet_secret: wallet.secret_key().to_secret_hex(),
        client_pubkey: client.public_key().to_hex(),
        relays: relays.iter().map(|r| r.to_string()).collect(),
        budget_msat: spec.budget_msat,
        window: spec.window,
    };
    Ok((Command::NwcAdd(add), uri.to_string()))
}

/// The wallet service: runs until `shutdown`, idle while the payer has no
/// connection; `core.nwc_changed` tells it of a new one.
pub(crate) async fn run(node: Arc<Node>, core: Arc<Core>, shutdown: CancellationToken) {
    let monitor = Monitor::new(256);
    let mut status = monitor.subscribe();
    let client = Client::builder().monitor(monitor).build();
    let mut notifications = client.notifications();
    let mut served = Served::default();
    let seen: Arc<std::sync::Mutex<HashSet<EventId>>> = Arc::default();
    sync(&client, &core, &mut served).await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = core.nwc_changed.notified() => sync(&client, &core, &mut served).await,
            Ok(MonitorNotification::StatusChanged { relay_url, status }) = status.recv() => {
                tracing::debug!(relay = %relay_url, %status, "nostr relay");
                if status == RelayStatus::Connected {
                    // A relay that restarted may have lost the info events.
                    publish_info(&client, &core, Some(&relay_url)).await;
                }
            }
            Some(n) = notifications.next() => {
                let ClientNotification::Event { subscription_id, event, .. } = n else {
                    continue;
                };
                if served.subscription.as_ref() != Some(&subscription_id) || !seen.lock().expect("seen").insert(event.id) {
                    continue;
                }
                let (node, core, client) = (Arc::clone(&node), Arc::clone(&core), client.clone());
                tokio::spawn(async move {
                    if let Err(e) = on_request(&node, &core, &client, &event).await {
                        tracing::warn!(request = %event.id, error = %e, "NIP-47 request not answered");
                    }
                });
            }
        }
    }
    client.shutdown().await;
}

/// What the client is connected and subscribed to.
#[derive(Default)]
struct Served {
    relays: BTreeSet<String>,
    wallets: BTreeSet<String>,
    retry: Option<Duration>,
    /// The subscription of requests (a new one for each set of wallet keys).
    subscription: Option<SubscriptionId>,
}

/// Connects to the connections' relays not yet connected, subscribes to
/// every connection's wallet key (revoked ones too, to answer them
/// `UNAUTHORIZED`) and publishes the active ones' info events.
async fn sync(client: &Client, core: &Core, served: &mut Served) {
    let connections = core
        .state
        .lock()
        .expect("payer state")
        .nwc_connections
        .clone();
    if !connections.iter().any(|c| c.status == NwcStatus::Active) {
        return;
    }
    served.retry = core.options.nwc_relay_retry;
    for relay in connections.iter().flat_map(|c| &c.relays) {
        if served.relays.contains(relay) {
            continue;
        }
        let mut add = client.add_relay(relay.as_str());
        if let Some(retry) = served.retry {
            add = add.retry_interval(retry).adjust_retry_interval(false);
        }
        match add.and_connect().await {
            Ok(_) => {
                served.relays.insert(relay.clone());
            }
            Err(e) => tracing::warn!(relay = %relay, error = %e, "cannot add a nostr relay"),
        }
    }
    let wallets: BTreeSet<String> = connections
        .iter()
        .map(|c| c.wallet_pubkey.clone())
        .collect();
    if wallets != served.wallets {
        let keys: Vec<PublicKey> = wallets
            .iter()
            .filter_map(|k| PublicKey::from_hex(k).ok())
            .collect();
        let filter = Filter::new()
            .kind(Kind::WalletConnectRequest)
            .pubkeys(keys)
            .since(Timestamp::now());
        // A new subscription, then the old one goes (a request seen by
        // both is handled once).
        let id = SubscriptionId::new(format!("pushbill-nwc-{}", ulid::Ulid::new()));
        match client.subscribe(filter).with_id(id.clone()).await {
            Ok(out) => {
                for (relay, why) in &out.failed {
                    tracing::info!(relay = %relay, reason = %why, "NIP-47 requests not subscribed on a relay yet");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to NIP-47 requests yet"),
        }
        if let Some(old) = served.subscription.replace(id) {
            let _ = client.unsubscribe(&old).await;
        }
        served.wallets = wallets;
    }
    publish_info(client, core, None).await;
    tracing::info!(
        connections = connections.len(),
        relays = served.relays.len(),
        "NIP-47 wallet service running"
    );
}

/// The info event (kind 13194) of each active connection, to `relay` or to all.
async fn publish_info(client: &Client, core: &Core, relay: Option<&RelayUrl>) {
    let connections = core
        .state
        .lock()
        .expect("payer state")
        .nwc_connections
        .clone();
    for c in connections.iter().filter(|c| c.status == NwcStatus::Active) {
        if let Some(r) = relay
            && !c
                .relays
                .iter()
                .any(|x| RelayUrl::parse(x).ok().as_ref() == Some(r))
        {
            continue;
        }
        let Ok(keys) = Keys::parse(&c.wallet_secret) else {
            tracing::warn!(connection = %c.id, "unreadable wallet key");
            continue;
        };
        let event = EventBuilder::new(Kind::WalletConnectInfo, METHODS)
            .tag(Nip47Tag::Encryption(
                Nip47Ciphers::NIP44V2.add(Nip47Ciphers::NIP04),
            ))
            .finalize(&keys);
        let Ok(event) = event else { continue };
        let sent = match relay {
            Some(r) => client.send_event(&event).to([r.clone()]).await,
            None => client.send_event(&event).await,
        };
        if let Err(e) = sent {
            tracing::info!(connection = %c.id, error = %e, "NIP-47 info event not published yet");
        }
    }
}

fn error(method: Method, code: ErrorCode, message: impl Into<String>) -> Response {
    Response {
        result_type: method,
        error: Some(NIP47Error {
            code,
            message: message.into(),
        }),
        result: None,
    }
}

/// Answers one request (kind 23194) with a response (kind 23195).
async fn on_request(
    node: &Node,
    core: &Core,
    client: &Client,
    event: &Event,
) -> anyhow::Result<()> {
    event.verify().context("a request with a bad signature")?;
    if event.is_expired() {
        return Ok(());
    }
    let targets: Vec<String> = event.tags.public_keys().map(|p| p.to_hex()).collect();
    let connection = core
        .state
        .lock()
        .expect("payer state")
        .nwc_connections
        .iter()
        .find(|c| targets.contains(&c.wallet_pubkey))
        .cloned();
    let Some(connection) = connection else {
        return Ok(());
    };
    let keys = Keys::parse(&connection.wallet_secret).context("the wallet key")?;
    let cipher = event
        .tags
        .iter()
        .find_map(|t| match Nip47Tag::try_from(t).ok()? {
            Nip47Tag::Encryption(c) => Some(c),
        })
        .filter(|c| c.has(Nip47Ciphers::NIP44V2))
        .map_or(Nip47Ciphers::NIP04, |_| Nip47Ciphers::NIP44V2);
    let plain = cipher
        .decrypt(keys.secret_key(), &event.pubkey, &event.content)
        .context("cannot decrypt the request")?;
    let raw: serde_json::Value = serde_json::from_str(&plain).context("not JSON")?;
    let method_name = raw
        .get("method")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    let method = Method::from_str(&method_name).unwrap_or(Method::Unknown(method_name.clone()));
    let authorized =
        event.pubkey.to_hex() == connection.client_pubkey && connection.status == NwcStatus::Active;
    if authorized && method_name == "get_budget" {
        // NWC-13 (not in nostr 0.45's types): the budget, used and total, msat.
        let (spent, _) = {
            let state = core.state.lock().expect("payer state");
            state.nwc_spent_and_left(&connection, core.now_in(&state))
        };
        let budget = serde_json::json!({
            "result_type": "get_budget",
            "result": {
                "used_budget": spent,
                "total_budget": connection.budget_msat,
                "renewal_period": connection.window.name(),
            }
        });
        return answer(client, &keys, cipher, event, &budget.to_string()).await;
    }
    let response = if !authorized {
        tracing::info!(connection = %connection.id, method = %method_name, "NIP-47 request refused: unauthorized");
        error(
            method,
            ErrorCode::Unauthorized,
            "this key has no live connection to this wallet",
        )
    } else {
        match Request::from_value(raw) {
            Ok(Request {
                params: RequestParams::GetInfo,
                ..
            }) => get_info(node),
            Ok(Request {
                params: RequestParams::GetBalance,
                ..
            }) => {
                let state = core.state.lock().expect("payer state");
                let (_, left) = state.nwc_spent_and_left(&connection, core.now_in(&state));
                Response {
                    result_type: Method::GetBalance,
                    error: None,
                    result: Some(ResponseResult::GetBalance(GetBalanceResponse {
                        balance: left,
                    })),
                }
            }
            Ok(Request {
                params: RequestParams::PayInvoice(p),
                ..
            }) => pay_invoice(node, core, &connection, p).await,
            Ok(other) => error(other.method, ErrorCode::NotImplemented, "not offered"),
            Err(_) => error(method, ErrorCode::NotImplemented, "unknown method"),
        }
    };
    answer(client, &keys, cipher, event, &response.as_json()).await
}

/// Sends `json` as the response to `event`: encrypted with its cipher, `p`
/// the client, `e` the request.
async fn answer(
    client: &Client,
    keys: &Keys,
    cipher: Nip47Ciphers,
    event: &Event,
    json: &str,
) -> anyhow::Result<()> {
    let content = cipher
        .encrypt(keys.secret_key(), &event.pubkey, &json.to_owned())
        .context("cannot encrypt the response")?;
    let answer = EventBuilder::new(Kind::WalletConnectResponse, content)
        .tag(Tag::public_key(event.pubkey))
        .tag(Tag::event(event.id))
        .finalize(keys)
        .context("cannot sign the response")?;
    client
        .send_event(&answer)
        .await
        .context("cannot publish the response")?;
    Ok(())
}

fn get_info(node: &Node) -> Response {
    let network = match node.network() {
        bitcoin::Network::Bitcoin => "mainnet",
        bitcoin::Network::Signet => "signet",
        bitcoin::Network::Regtest => "regtest",
        _ => "testnet",
    };
    let best = node.best_block();
    Response {
        result_type: Method::GetInfo,
        error: None,
        result: Some(ResponseResult::GetInfo(GetInfoResponse {
            alias: Some("pushbill-payer".into()),
            color: None,
            pubkey: Some(node.node_id().to_string()),
            network: Some(network.into()),
            block_height: Some(best.height),
            block_hash: Some(best.block_hash.to_string()),
            methods: vec![
                Method::PayInvoice,
                Method::GetInfo,
                Method::GetBalance,
                Method::Unknown("get_budget".into()),
            ],
            notifications: vec![],
        })),
    }
}

fn paid(preimage: String) -> Response {
    Response {
        result_type: Method::PayInvoice,
        error: None,
        result: Some(ResponseResult::PayInvoice(PayInvoiceResponse {
            preimage,
            // The node's PaymentSent fee is not kept; a direct channel pays none.
            fees_paid: None,
        })),
    }
}

async fn pay_invoice(
    node: &Node,
    core: &Core,
    connection: &NwcConnection,
    request: PayInvoiceRequest,
) -> Response {
    let refuse = |code, message: String| error(Method::PayInvoice, code, message);
    let bolt11 = request.invoice.trim().to_owned();
    let Ok(invoice) = Bolt11Invoice::from_str(&bolt11) else {
        return refuse(ErrorCode::Other, "not a BOLT11 invoice".into());
    };
    if invoice.network() != node.network() {
        return refuse(
            ErrorCode::Other,
            format!(
                "the invoice is for {}, this wallet pays on {}",
                invoice.network(),
                node.network()
            ),
        );
    }
    if ln_node::push::is_expired(&invoice) {
        return refuse(ErrorCode::PaymentFailed, "the invoice has expired".into());
    }
    let Some(amount_msat) = invoice.amount_milli_satoshis().filter(|a| *a > 0) else {
        return refuse(
            ErrorCode::Other,
            "the invoice names no amount; this wallet pays only invoices that do".into(),
        );
    };
    if request.amount.is_some_and(|a| a != amount_msat) {
        return refuse(
            ErrorCode::Other,
            "the amount differs from the invoice's".into(),
        );
    }
    let checked = CheckedInvoice {
        payment_hash: hex::encode(invoice.payment_hash()),
        payee: invoice.get_payee_pub_key().to_string(),
        amount_msat,
        grant: None,
        expires_at: invoice
            .expires_at()
            .map_or(i64::MAX, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    };
    let hash = checked.payment_hash.clone();
    let decision = core.update(|s| {
        let now = core.now_in(s);
        s.nwc_pay(&connection.id, &checked, &bolt11, now)
    });
    let decision = match decision {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot record a NIP-47 payment");
            return refuse(ErrorCode::Internal, "cannot record the payment now".into());
        }
    };
    tracing::info!(connection = %connection.id, payment_hash = %hash, amount_msat, decision = decision_name(&decision), "NIP-47 pay_invoice");
    match decision {
        NwcDecision::Paid { preimage } => paid(preimage),
        NwcDecision::InFlight => wait_end(core, &hash).await,
        NwcDecision::Refused(NwcRefusal::Unauthorized) => {
            refuse(ErrorCode::Unauthorized, "this connection is revoked".into())
        }
        NwcDecision::Refused(NwcRefusal::QuotaExceeded { left_msat }) => refuse(
            ErrorCode::QuotaExceeded,
            format!(
                "the {} budget of {} has {} left",
                connection.window.name(),
                crate::display::msat(connection.budget_msat),
                crate::display::msat(left_msat)
            ),
        ),
        NwcDecision::Refused(NwcRefusal::PaidWithoutPreimage) => refuse(
            ErrorCode::Other,
            "this invoice was paid before; its preimage is not kept".into(),
        ),
        NwcDecision::Refused(NwcRefusal::Known(status)) => refuse(
            ErrorCode::Other,
            format!(
                "this payment hash is known ({}): it is never paid twice",
                status.name()
            ),
        ),
        NwcDecision::Pay { .. } => send(node, core, &invoice, &hash, amount_msat).await,
    }
}

fn decision_name(d: &NwcDecision) -> &'static str {
    match d {
        NwcDecision::Pay { .. } => "pay",
        NwcDecision::Paid { .. } => "paid before",
        NwcDecision::InFlight => "in flight",
        NwcDecision::Refused(NwcRefusal::Unauthorized) => "unauthorized",
        NwcDecision::Refused(NwcRefusal::QuotaExceeded { .. }) => "quota exceeded",
        NwcDecision::Refused(_) => "known",
    }
}

/// Pays a recorded payment with the node, as pushes are paid.
async fn send(
    node: &Node,
    core: &Core,
    invoice: &Bolt11Invoice,
    hash: &str,
    amount_msat: u64,
) -> Response {
    let payment_hash = PaymentHash(*invoice.payment_hash().as_ref());
    let refuse = |code, message: String| error(Method::PayInvoice, code, message);
    let can_send: u64 = node
        .list_channels()
        .iter()
        .filter(|c| c.is_usable)
        .map(|c| c.outbound_capacity_msat)
        .sum();
    if can_send < amount_msat {
        let _ = core.end(&payment_hash, Err("insufficient balance".into()));
        return refuse(
            ErrorCode::InsufficientBalance,
            format!("the wallet can send {} now", crate::display::msat(can_send)),
        );
    }
    match node.start_bolt11_payment_watched(invoice, PAYMENT_RETRY) {
        Ok(outcome) => {
            match tokio::time::timeout(PAYMENT_RETRY + Duration::from_secs(10), outcome).await {
                Ok(Ok(Ok(preimage))) => {
                    let preimage = hex::encode(preimage.0);
                    let kept = core.update(|s| {
                        if let Some(p) = s.payments.get_mut(hash) {
                            p.preimage = Some(preimage.clone());
                        }
                    });
                    if let Err(e) = kept {
                        tracing::error!(payment_hash = %hash, error = %e, "cannot keep a preimage");
                    }
                    paid(preimage)
                }
                Ok(Ok(Err(reason))) => refuse(ErrorCode::PaymentFailed, reason),
                Ok(Err(_)) => refuse(
                    ErrorCode::Internal,
                    "the wallet stopped before the payment ended".into(),
                ),
                Err(_) => refuse(
                    ErrorCode::Other,
                    "the payment is still in flight; ask again to learn its outcome".into(),
                ),
            }
        }
        Err(Bolt11PaymentError::SendingFailed(RetryableSendFailure::DuplicatePayment)) => {
            wait_end(core, hash).await
        }
        Err(e) => {
            tracing::warn!(payment_hash = %hash, error = ?e, "NIP-47 payment could not start");
            let _ = core.end(&payment_hash, Err(format!("{e:?}")));
            refuse(ErrorCode::PaymentFailed, format!("cannot pay: {e:?}"))
        }
    }
}

/// Waits until payment `hash` (in flight by either rail) ends, and answers
/// with its outcome.
async fn wait_end(core: &Core, hash: &str) -> Response {
    let refuse = |code, message: &str| error(Method::PayInvoice, code, message);
    let deadline = tokio::time::Instant::now() + PAYMENT_RETRY + Duration::from_secs(10);
    let mut grace = 50;
    loop {
        let payment = core
            .state
            .lock()
            .expect("payer state")
            .payments
            .get(hash)
            .cloned();
        match payment {
            Some(p) if matches!(p.status, Status::Paying | Status::Approved) => {}
            Some(p) if p.status == Status::Paid => match p.preimage {
                Some(preimage) => return paid(preimage),
                // Its own request is keeping the preimage just now.
                None if p.nwc_id.is_some() && grace > 0 => grace -= 1,
                None => {
                    return refuse(
                        ErrorCode::Other,
                        "this invoice was paid; its preimage is not kept",
                    );
                }
            },
            Some(p) => {
                return refuse(
                    ErrorCode::PaymentFailed,
                    p.reason.as_deref().unwrap_or("the payment failed"),
                );
            }
            None => return refuse(ErrorCode::Internal, "the payment is not recorded"),
        }
        if tokio::time::Instant::now() >= deadline {
            return refuse(
                ErrorCode::Other,
                "the payment is still in flight; ask again to learn its outcome",
            );
        }
        tokio::time::sleep(IN_FLIGHT_POLL).await;
    }
}
