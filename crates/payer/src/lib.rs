//! The subscriber side, `pushbill-payer`: an LDK node (the same wiring as the
//! merchant's, its own data folder, no database) that takes push invoices.
//!
//! For every `push_invoice` it checks the BOLT11 (signature, network, expiry,
//! amount) and reads the grant its signed description commits to. Inside a
//! live grant of this payer, for that grant's payee and within its caps, it
//! records the spend durably, pays (the payment id is the payment hash) and
//! answers `accepted`, then `paid` when the payment succeeds. Anything else
//! goes to the requests inbox (`pending_approval`), bounded per delivering
//! peer and day (past it: `rejected` / `request_limit`). The delivering peer
//! never decides anything. A payment hash is recorded before it is paid and
//! is never paid again, across restarts.
//!
//! - `state`: grants and payments, one JSON file written atomically; the rules
//! - `control`: how CLI commands reach a running (or stopped) payer
//! - `subscribe`: the subscribe handshake, subscriber side
//! - `nwc`: the Nostr Wallet Connect (NIP-47) wallet service, the second
//!   auto-pay rail: `pay_invoice` inside a connection's budget
//! - `cli`, `display`: the command line of `pushbill-payer` (and its alias `pushbill payer`)

pub mod cli;
pub mod control;
mod display;
pub mod nwc;
pub mod sandbox;
pub mod state;
pub mod subscribe;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use bitcoin::secp256k1::PublicKey;
use chrono::{DateTime, Utc};
use lightning::ln::channelmanager::PaymentId;
use lightning::ln::channelmanager::{Bolt11PaymentError, RetryableSendFailure};
use lightning::types::payment::PaymentHash;
use lightning_invoice::Bolt11Invoice;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::control::{Command, Reply};
use self::state::{CheckedInvoice, Decision, Limits, PayerState, Payment, Status};
use ln_node::{Inboxes, Node, NodeConfig, PaymentSink, Verdict};
use push_protocol::handler::{IncomingGrantMessage, IncomingPush, PushMessage};
use push_protocol::wire::{PushInvoice, PushReply, RejectReason, ReplyStatus};

pub use self::nwc::NwcSpec;

/// How long LDK keeps retrying one payment.
pub(crate) const PAYMENT_RETRY: Duration = Duration::from_secs(60);
/// How often queued CLI commands are looked for.
const COMMAND_POLL: Duration = Duration::from_millis(200);

/// How often the grants' notices to merchants are looked at.
const NOTICE_POLL: Duration = Duration::from_secs(1);

/// Where the payer's time comes from (grant windows, ends, request days).
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How a payer behaves, beyond its node.
#[derive(Clone)]
pub struct PayerOptions {
    pub limits: Limits,
    /// The wall clock by default; tests set another.
    pub now: Now,
    /// In the sandbox, the deployment's node (hex): the period start of a
    /// push it signs and delivers itself moves this payer's time forward to
    /// it, so grant windows follow the sandbox's test clock. `None` on real
    /// networks: wall time only.
    pub sandbox_node: Option<String>,
    /// How long the wallet service (NIP-47) waits before reconnecting to a
    /// relay, fixed; `None`: nostr-sdk's (10 s, growing with failures).
    /// Tests set a second.
    pub nwc_relay_retry: Option<Duration>,
}

impl Default for PayerOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            now: Arc::new(Utc::now),
            sandbox_node: None,
            nwc_relay_retry: None,
        }
    }
}

/// The payer's state, shared by its loop and the node's event handler.
struct Core {
    dir: PathBuf,
    options: PayerOptions,
    state: Mutex<PayerState>,
    /// Queued commands that talk to the node or a merchant, being handled.
    in_flight: Mutex<std::collections::HashSet<String>>,
    handshakes: subscribe::Handshakes,
    /// Payments that ended (hash, paid or why not), for the loop to reply.
    ended: mpsc::UnboundedSender<(String, Result<(), String>)>,
    /// A wallet connection was added: the wallet service serves it.
    nwc_changed: tokio::sync::Notify,
}

impl Core {
    fn now(&self) -> DateTime<Utc> {
        let now = (self.options.now)();
        self.state.lock().expect("payer state").time(now)
    }

    /// [`Self::now`] with the state at hand (locked, or being changed).
    fn now_in(&self, state: &PayerState) -> DateTime<Utc> {
        state.time((self.options.now)())
    }

    /// The sandbox's node pushed an invoice of a period starting at `start`:
    /// its test clock is there at least (kept in the state, so it survives
    /// a restart and the listings see it).
    fn follow_sandbox(&self, peer: &str, payee: &str, start: Option<u64>) {
        let ours = self.options.sandbox_node.as_deref();
        let Some(start) = start.and_then(|s| i64::try_from(s).ok()) else {
            return;
        };
        let ahead = self
            .state
            .lock()
            .expect("payer state")
            .sandbox_time
            .is_none_or(|t| start > t);
        if ours == Some(peer)
            && ours == Some(payee)
            && ahead
            && let Err(e) = self.update(|s| s.sandbox_time = Some(start))
        {
            tracing::error!(error = %e, "cannot record the sandbox's time");
        }
    }

    /// Changes the state and writes it before returning.
    fn update<T>(&self, change: impl FnOnce(&mut PayerState) -> T) -> anyhow::Result<T> {
        let mut state = self.state.lock().expect("payer state");
        let mut next = state.clone();
        let out = change(&mut next);
        next.save(&self.dir)?;
        *state = next;
        Ok(out)
    }

    fn end(&self, hash: &PaymentHash, outcome: Result<(), String>) -> anyhow::Result<()> {
        let key = hex::encode(hash.0);
        let changed = self.update(|s| match s.payments.get_mut(&key) {
            Some(p) if matches!(p.status, Status::Paying | Status::Approved) => {
                match &outcome {
                    Ok(()) => p.status = Status::Paid,
                    Err(reason) => {
                        p.status = Status::Failed;
                        p.reason = Some(reason.clone());
                    }
                }
                true
            }
            _ => false,
        })?;
        if changed {
            let _ = self.ended.send((key, outcome));
        }
        Ok(())
    }
}

/// The node's payment hooks: outgoing payments end in the state file before
/// LDK forgets their event; incoming payments are refused.
struct PayerSink(Arc<Core>);

#[async_trait::async_trait]
impl PaymentSink for PayerSink {
    async fn may_claim(&self, _: &PaymentHash, _: u64) -> anyhow::Result<Verdict> {
        Ok(Verdict::Reject("a payer node takes no payments".into()))
    }
    async fn claimed(&self, payment_hash: &PaymentHash, amount_msat: u64) -> anyhow::Result<()> {
        tracing::error!(payment_hash = %payment_hash, amount_msat, "a payer node claimed a payment");
        Ok(())
    }
    async fn sent(&self, payment_hash: &PaymentHash) -> anyhow::Result<()> {
        self.0.end(payment_hash, Ok(()))
    }
    async fn send_failed(&self, payment_hash: &PaymentHash, reason: &str) -> anyhow::Result<()> {
        self.0.end(payment_hash, Err(reason.to_owned()))
    }
}

/// A running payer.
pub struct Payer {
    node: Arc<Node>,
    core: Arc<Core>,
    shutdown: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    nwc_task: Mutex<Option<JoinHandle<()>>>,
    lock: Mutex<Option<std::fs::File>>,
}

impl Payer {
    /// Starts the payer on `data_dir` with the default options.
    pub async fn start(data_dir: PathBuf, node: NodeConfig) -> anyhow::Result<Arc<Payer>> {
        Self::start_with(data_dir, node, PayerOptions::default()).await
    }

    /// Starts the payer on `data_dir` (its node keeps its state in
    /// `data_dir/node`; `node.data_dir` is ignored).
    pub async fn start_with(
        data_dir: PathBuf,
        mut node: NodeConfig,
        options: PayerOptions,
    ) -> anyhow::Result<Arc<Payer>> {
        let lock = dir_lock::lock(&data_dir)?
            .ok_or_else(|| anyhow!("{} is used by a running payer", data_dir.display()))?;
        let mut state = PayerState::load(&data_dir)?;
        // State commands queued while no payer ran; the others wait for the node.
        let queued: Vec<_> = control::queued(&data_dir)
            .into_iter()
            .filter(|q| !q.command.needs_node())
            .collect();
        let now = (options.now)();
        let replies: Vec<Reply> = queued
            .iter()
            .map(|q| match control::apply(&mut state, &q.command, now) {
                Ok(message) => Reply::ok(message),
                Err(e) => Reply::refused(e.to_string()),
            })
            .collect();
        state.save(&data_dir)?;
        // Saved: only now may the commands go.
        for (q, reply) in queued.into_iter().zip(&replies) {
            q.done(reply);
        }
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        let core = Arc::new(Core {
            dir: data_dir.clone(),
            options,
            state: Mutex::new(state),
            in_flight: Mutex::default(),
            handshakes: subscribe::Handshakes::default(),
            ended: ended_tx,
            nwc_changed: tokio::sync::Notify::new(),
        });
        let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
        let (grants_tx, grants_rx) = mpsc::unbounded_channel();
        node.data_dir = data_dir.join("node");
        let inboxes = Inboxes {
            pushes: Some(inbox_tx),
            grants: Some(grants_tx),
        };
        let node =
            Node::start_with_inboxes(node, Arc::new(PayerSink(Arc::clone(&core))), inboxes).await?;
        settle_interrupted(&node, &core)?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            Arc::clone(&node),
            Arc::clone(&core),
            inbox_rx,
            grants_rx,
            ended_rx,
            shutdown.clone(),
        ));
        let nwc_task = tokio::spawn(nwc::run(
            Arc::clone(&node),
            Arc::clone(&core),
            shutdown.clone(),
        ));
        tracing::info!(node_id = %node.node_id(), dir = %data_dir.display(), "payer running");
        Ok(Arc::new(Payer {
            node,
            core,
            shutdown,
            task: Mutex::new(Some(task)),
            nwc_task: Mutex::new(Some(nwc_task)),
            lock: Mutex::new(Some(lock)),
        }))
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// A copy of the current state.
    pub fn state(&self) -> PayerState {
        self.core.state.lock().expect("payer state").clone()
    }

    /// Offers a new wallet connection (NIP-47): saves it, has the wallet
    /// service serve it, and returns its `nostr+walletconnect://` URI. The
    /// URI holds the client's secret, which the payer does not keep: hand
    /// it over once, never log it.
    pub async fn nwc_connect(&self, spec: NwcSpec) -> anyhow::Result<String> {
        let (command, uri) = nwc::new_connection(&spec)?;
        self.apply(&command)?;
        Ok(uri)
    }

    /// Revokes wallet connection `id`: its requests are answered
    /// `UNAUTHORIZED` from now on.
    pub fn nwc_revoke(&self, id: &str) -> anyhow::Result<()> {
        self.apply(&Command::NwcRevoke { id: id.to_owned() })
            .map(drop)
    }

    /// Changes wallet connection `id`'s budget (msat per window; the window
    /// too when given). Spending so far in the window still counts.
    pub fn nwc_set_budget(
        &self,
        id: &str,
        budget_msat: u64,
        window: Option<state::BudgetWindow>,
    ) -> anyhow::Result<()> {
        self.apply(&Command::NwcBudget {
            id: id.to_owned(),
            budget_msat,
            window,
        })
        .map(drop)
    }

    /// Applies a state command and saves it, as a queued one is.
    fn apply(&self, command: &Command) -> anyhow::Result<String> {
        let now = self.core.now();
        let message = self.core.update(|s| control::apply(s, command, now))??;
        if matches!(command, Command::NwcAdd(_)) {
            self.core.nwc_changed.notify_one();
        }
        Ok(message)
    }

    /// Stops the loop and the node cleanly.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        let task = self.task.lock().expect("payer").take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let nwc_task = self.nwc_task.lock().expect("payer").take();
        if let Some(task) = nwc_task {
            let _ = task.await;
        }
        self.node.stop().await;
        self.lock.lock().expect("payer").take();
    }
}

/// Payments recorded as paying that the node does not know were never
/// handed over (the payer stopped in between): they failed, and are not
/// tried again. Approved ones are paid by the loop.
fn settle_interrupted(node: &Node, core: &Core) -> anyhow::Result<()> {
    let known: Vec<PaymentId> = node.recent_payment_ids();
    core.update(|s| {
        for (hash, p) in s.payments.iter_mut() {
            let id = hex::decode(hash)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(PaymentId);
            if p.status == Status::Paying && !id.is_some_and(|id| known.contains(&id)) {
                p.status = Status::Failed;
                p.reason = Some("interrupted before it was sent".into());
            }
        }
    })
}

async fn run(
    node: Arc<Node>,
    core: Arc<Core>,
    mut inbox: mpsc::UnboundedReceiver<IncomingPush>,
    mut grants: mpsc::UnboundedReceiver<IncomingGrantMessage>,
    mut ended: mpsc::UnboundedReceiver<(String, Result<(), String>)>,
    shutdown: CancellationToken,
) {
    pay_approved(&node, &core);
    let mut commands = tokio::time::interval(COMMAND_POLL);
    commands.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut notices = tokio::time::interval(NOTICE_POLL);
    notices.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut notices_task: Option<JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some((peer, push)) = inbox.recv() => on_push(&node, &core, peer, push),
            Some((peer, message)) = grants.recv() => subscribe::on_message(&node, &core, peer, message),
            _ = notices.tick() => {
                // Its own task: connecting to a merchant may take seconds.
                if notices_task.as_ref().is_none_or(|t| t.is_finished()) {
                    let (node, core) = (Arc::clone(&node), Arc::clone(&core));
                    notices_task = Some(tokio::spawn(async move {
                        subscribe::send_due_notices(&node, &core).await
                    }));
                }
            }
            Some((hash, outcome)) = ended.recv() => {
                let payment = core.state.lock().expect("payer state").payments.get(&hash).cloned();
                if let Some(p) = payment {
                    let status = match outcome {
                        Ok(()) => ReplyStatus::Paid,
                        Err(_) => ReplyStatus::Rejected(RejectReason::PaymentFailed),
                    };
                    reply_to(&node, &p.peer, &p.push_id, status);
                }
            }
            _ = commands.tick() => {
                for q in control::queued(&core.dir) {
                    if q.command.needs_node() {
                        let fresh = core.in_flight.lock().expect("in flight").insert(q.id.clone());
                        if fresh {
                            tokio::spawn(node_command(Arc::clone(&node), Arc::clone(&core), q));
                        }
                        continue;
                    }
                    let Some(reply) = run_command(&node, &core, &q.command) else {
                        // Not saved: it stays queued, and the ones after it wait.
                        break;
                    };
                    q.done(&reply);
                }
                pay_approved(&node, &core);
                // Held pushes whose BOLT11 expired (by the wall clock, as LDK checks).
                let wall = Utc::now();
                let due = core.state.lock().expect("payer state").has_expired(wall);
                if due && let Err(e) = core.update(|s| s.expire(wall)) {
                    tracing::error!(error = %e, "cannot record expired requests");
                }
            }
        }
    }
}

/// Handles a command that needs the node (or a merchant) and answers it.
async fn node_command(node: Arc<Node>, core: Arc<Core>, q: control::Queued) {
    let reply = match &q.command {
        Command::Status => Reply {
            data: Some(node_status(&node)),
            ..Reply::ok("running")
        },
        Command::FetchTerms(request) => subscribe::fetch_terms(&node, &core, request).await,
        Command::Accept(acceptance) => subscribe::accept(&node, &core, acceptance).await,
        _ => Reply::refused("not a node command"),
    };
    let id = q.id.clone();
    q.done(&reply);
    core.in_flight.lock().expect("in flight").remove(&id);
}

/// What `payer status` shows of the node.
fn node_status(node: &Node) -> serde_json::Value {
    let channels: Vec<serde_json::Value> = node
        .list_channels()
        .iter()
        .map(|c| {
            let state = match (c.is_usable, c.is_channel_ready) {
                (true, _) => "usable",
                (false, true) => "ready, peer offline",
                (false, false) => "opening",
            };
            serde_json::json!({
                "channel_id": c.channel_id,
                "peer": c.counterparty_node_id,
                "state": state,
                "capacity_sat": c.capacity_sat,
                "outbound_msat": c.outbound_capacity_msat,
                "inbound_msat": c.inbound_capacity_msat,
                "confirmations": c.confirmations,
            })
        })
        .collect();
    serde_json::json!({
        "node_id": node.node_id().to_string(),
        "listen": node.listen_addr().to_string(),
        "network": node.network().to_string(),
        "channels": channels,
    })
}

/// Applies and saves a command, and answers it; `None` if it could not be saved.
fn run_command(node: &Node, core: &Core, command: &Command) -> Option<Reply> {
    let now = core.now();
    let applied = core.update(|s| {
        // The payment a reject names, found before it changes.
        let rejected = match command {
            Command::Reject { push_id } => s.find_payment(push_id).ok(),
            _ => None,
        };
        control::apply(s, command, now).map(|m| (m, rejected))
    });
    match applied {
        Ok(Ok((message, rejected))) => {
            if matches!(command, Command::NwcAdd(_)) {
                core.nwc_changed.notify_one();
            }
            let payment = rejected.and_then(|hash| {
                core.state
                    .lock()
                    .expect("payer state")
                    .payments
                    .get(&hash)
                    .cloned()
            });
            if let Some(p) = payment {
                reply_to(
                    node,
                    &p.peer,
                    &p.push_id,
                    ReplyStatus::Rejected(RejectReason::Declined),
                );
            }
            Some(Reply::ok(message))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "payer command refused");
            Some(Reply::refused(e.to_string()))
        }
        Err(e) => {
            tracing::error!(error = %e, "payer command not saved; will retry");
            None
        }
    }
}

/// Pays the approved payments (outside any grant).
fn pay_approved(node: &Node, core: &Core) {
    let approved: Vec<(String, Payment)> = core
        .state
        .lock()
        .expect("payer state")
        .payments
        .iter()
        .filter(|(_, p)| p.status == Status::Approved)
        .map(|(h, p)| (h.clone(), p.clone()))
        .collect();
    for (hash, payment) in approved {
        let Ok(invoice) = Bolt11Invoice::from_str(&payment.bolt11) else {
            continue;
        };
        if invoice.network() != node.network() {
            let reason = format!("the invoice is for {}", invoice.network());
            let hash = PaymentHash(*invoice.payment_hash().as_ref());
            let _ = core.update(|s| {
                if let Some(p) = s.payments.get_mut(&hash_hex(&hash)) {
                    p.status = Status::Paying;
                }
            });
            let _ = core.end(&hash, Err(reason));
            continue;
        }
        let recorded = core.update(|s| {
            if let Some(p) = s.payments.get_mut(&hash) {
                p.status = Status::Paying;
            }
        });
        if recorded.is_ok() {
            start_payment(node, core, &invoice);
        }
    }
}

fn on_push(node: &Node, core: &Core, peer: PublicKey, push: PushInvoice) {
    let push_id = push.push_id.to_hex();
    let peer_hex = peer.to_string();
    let (checked, invoice) = match check_invoice(node, &push) {
        Ok(ok) => ok,
        Err(reason) => {
            tracing::info!(push = %push_id, reason = %reason.name(), "push rejected");
            return reply_to(node, &peer_hex, &push_id, ReplyStatus::Rejected(reason));
        }
    };
    core.follow_sandbox(&peer_hex, &checked.payee, push.period_start);
    let now = core.now();
    let decision = core.state.lock().expect("payer state").decide(
        &checked,
        &peer_hex,
        now,
        &core.options.limits,
    );
    tracing::info!(push = %push_id, payee = %checked.payee, amount_msat = checked.amount_msat, ?decision, "push received");
    let record = |status: Status, grant: Option<(String, i64)>, reason: Option<String>| {
        core.update(|s| {
            s.record(
                checked.payment_hash.clone(),
                Payment {
                    push_id: push_id.clone(),
                    payee: checked.payee.clone(),
                    peer: peer_hex.clone(),
                    amount_msat: checked.amount_msat,
                    bolt11: push.invoice.clone(),
                    merchant_name: push.merchant_name.clone(),
                    invoice_number: push.invoice_number.clone(),
                    plan_name: push.plan_name.clone(),
                    status,
                    window_start: grant.as_ref().map(|(_, w)| *w),
                    grant_id: grant.map(|(g, _)| g),
                    received_at: now.timestamp(),
                    expires_at: Some(checked.expires_at),
                    held: status == Status::PendingApproval,
                    reason,
                    nwc_id: None,
                    preimage: None,
                },
            );
        })
    };
    let status = match decision {
        Decision::Known(known) => {
            let first_push = core
                .state
                .lock()
                .expect("payer state")
                .payments
                .get(&checked.payment_hash)
                .is_some_and(|p| p.push_id == push_id);
            match known {
                Status::Paying | Status::Approved => ReplyStatus::Accepted,
                Status::PendingApproval => ReplyStatus::PendingApproval,
                Status::Paid => ReplyStatus::Paid,
                Status::Failed if first_push => ReplyStatus::Rejected(RejectReason::PaymentFailed),
                Status::Rejected if first_push => ReplyStatus::Rejected(RejectReason::Declined),
                Status::Expired if first_push => ReplyStatus::Rejected(RejectReason::Expired),
                Status::Failed | Status::Rejected | Status::Superseded | Status::Expired => {
                    ReplyStatus::Rejected(RejectReason::DuplicatePaymentHash)
                }
            }
        }
        Decision::Reject(reason) => ReplyStatus::Rejected(reason),
        Decision::Hold(hold) => {
            match record(Status::PendingApproval, None, Some(hold.describe())) {
                Ok(()) => ReplyStatus::PendingApproval,
                Err(e) => {
                    // Not recorded: say nothing, the merchant sends it again.
                    tracing::error!(error = %e, "cannot record a push");
                    return;
                }
            }
        }
        Decision::Pay {
            grant_id,
            window_start,
        } => {
            // The spend is on disk before the payment leaves.
            if let Err(e) = record(Status::Paying, Some((grant_id, window_start)), None) {
                tracing::error!(error = %e, "cannot record a push");
                return;
            }
            // `accepted` goes out before the payment, so the merchant hears
            // it first; a payment that cannot start is answered later with
            // `rejected(payment_failed)` (through the loop).
            reply_to(node, &peer_hex, &push_id, ReplyStatus::Accepted);
            start_payment(node, core, &invoice);
            return;
        }
    };
    reply_to(node, &peer_hex, &push_id, status);
}

/// Verifies the pushed BOLT11: it parses (which checks its signature), is
/// for this node's network, has not expired, and asks exactly the amount
/// the push says.
fn check_invoice(
    node: &Node,
    push: &PushInvoice,
) -> Result<(CheckedInvoice, Bolt11Invoice), RejectReason> {
    let invoice = Bolt11Invoice::from_str(&push.invoice).map_err(|_| RejectReason::Malformed)?;
    if invoice.network() != node.network() {
        return Err(RejectReason::WrongNetwork);
    }
    if ln_node::push::is_expired(&invoice) {
        return Err(RejectReason::Expired);
    }
    match invoice.amount_milli_satoshis() {
        Some(amount) if amount == push.amount_msat && amount > 0 => {}
        _ => return Err(RejectReason::AmountMismatch),
    }
    let grant = match invoice.description() {
        lightning_invoice::Bolt11InvoiceDescriptionRef::Direct(d) => {
            push_protocol::grant::committed_grant(&d.as_inner().0).map(|g| g.to_hex())
        }
        lightning_invoice::Bolt11InvoiceDescriptionRef::Hash(_) => None,
    };
    let checked = CheckedInvoice {
        payment_hash: hex::encode(invoice.payment_hash()),
        payee: invoice.get_payee_pub_key().to_string(),
        amount_msat: push.amount_msat,
        grant,
        expires_at: invoice
            .expires_at()
            .map_or(i64::MAX, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    };
    Ok((checked, invoice))
}

/// Hands the payment to LDK; the payment id is the payment hash, so LDK
/// refuses a second payment of one hash. `false` when it could not start
/// (recorded as failed).
fn start_payment(node: &Node, core: &Core, invoice: &Bolt11Invoice) -> bool {
    let hash = PaymentHash(*invoice.payment_hash().as_ref());
    let started = node.start_bolt11_payment(invoice, PAYMENT_RETRY);
    match started {
        Ok(()) | Err(Bolt11PaymentError::SendingFailed(RetryableSendFailure::DuplicatePayment)) => {
            true
        }
        Err(e) => {
            tracing::warn!(payment_hash = %hash, error = ?e, "payment could not start");
            if let Err(e) = core.end(&hash, Err(format!("{e:?}"))) {
                tracing::error!(error = %e, "cannot record a failed payment");
            }
            false
        }
    }
}

fn hash_hex(hash: &PaymentHash) -> String {
    hex::encode(hash.0)
}

fn reply_to(node: &Node, peer: &str, push_id: &str, status: ReplyStatus) {
    let (Ok(peer), Some(push_id)) = (
        PublicKey::from_str(peer),
        push_protocol::wire::PushId::from_hex(push_id),
    ) else {
        return;
    };
    node.send_push_message(
        peer,
        PushMessage::Reply(PushReply {
            push_id,
            status,
            message: None,
        }),
    );
}

/// Reads a payer's state without running it (for `pushbill payer pending`).
pub fn read_state(data_dir: &std::path::Path) -> anyhow::Result<PayerState> {
    PayerState::load(data_dir).context("reading the payer's state")
}
