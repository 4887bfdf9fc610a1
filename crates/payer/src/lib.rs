//! The subscriber side, `pushbill-payer`: an LDK node (the same wiring as the
//! merchant's, its own data folder, no database) that takes push invoices.
//!
//! For every `push_invoice` it checks the BOLT11 (signature, network, expiry,
//! amount), matches the invoice's signed payee against the allowances, and
//! replies: inside an allowance it records the spend durably, pays (the
//! payment id is the payment hash) and answers `accepted`, then `paid` when
//! the payment succeeds; outside it holds the push and answers
//! `pending_approval`; an unknown payee is `rejected`. A payment hash is
//! recorded before it is paid and is never paid again, across restarts.
//!
//! - `state`: allowances and payments, one JSON file written atomically
//! - `control`: how CLI commands reach a running (or stopped) payer
//! - `cli`: the command line of `pushbill-payer` (and its alias `pushbill payer`)

pub mod cli;
pub mod control;
pub mod state;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use bitcoin::secp256k1::PublicKey;
use chrono::Utc;
use lightning::ln::channelmanager::PaymentId;
use lightning::ln::channelmanager::{Bolt11PaymentError, RetryableSendFailure};
use lightning::types::payment::PaymentHash;
use lightning_invoice::Bolt11Invoice;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::control::Command;
use self::state::{CheckedInvoice, Decision, PayerState, Payment, Status};
use ln_node::{Node, NodeConfig, PaymentSink, Verdict};
use push_protocol::handler::{IncomingPush, PushMessage};
use push_protocol::wire::{PushInvoice, PushReply, RejectReason, ReplyStatus};

/// How long LDK keeps retrying one payment.
const PAYMENT_RETRY: Duration = Duration::from_secs(60);
/// How often queued CLI commands are looked for.
const COMMAND_POLL: Duration = Duration::from_millis(200);

/// The payer's state, shared by its loop and the node's event handler.
struct Core {
    dir: PathBuf,
    state: Mutex<PayerState>,
    /// Payments that ended (hash, paid or why not), for the loop to reply.
    ended: mpsc::UnboundedSender<(String, Result<(), String>)>,
}

impl Core {
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
    lock: Mutex<Option<std::fs::File>>,
}

impl Payer {
    /// Starts the payer on `data_dir` (its node keeps its state in
    /// `data_dir/node`; `node.data_dir` is ignored).
    pub async fn start(data_dir: PathBuf, mut node: NodeConfig) -> anyhow::Result<Arc<Payer>> {
        let lock = dir_lock::lock(&data_dir)?
            .ok_or_else(|| anyhow!("{} is used by a running payer", data_dir.display()))?;
        let mut state = PayerState::load(&data_dir)?;
        let queued = control::queued(&data_dir);
        for q in &queued {
            if let Err(e) = control::apply(&mut state, &q.command, Utc::now()) {
                tracing::warn!(error = %e, "payer command not applied");
            }
        }
        state.save(&data_dir)?;
        // Saved: only now may the commands go.
        queued.into_iter().for_each(control::Queued::done);
        let (ended_tx, ended_rx) = mpsc::unbounded_channel();
        let core = Arc::new(Core {
            dir: data_dir.clone(),
            state: Mutex::new(state),
            ended: ended_tx,
        });
        let (inbox_tx, inbox_rx) = mpsc::unbounded_channel();
        node.data_dir = data_dir.join("node");
        let node =
            Node::start_with(node, Arc::new(PayerSink(Arc::clone(&core))), Some(inbox_tx)).await?;
        settle_interrupted(&node, &core)?;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(
            Arc::clone(&node),
            Arc::clone(&core),
            inbox_rx,
            ended_rx,
            shutdown.clone(),
        ));
        tracing::info!(node_id = %node.node_id(), dir = %data_dir.display(), "payer running");
        Ok(Arc::new(Payer {
            node,
            core,
            shutdown,
            task: Mutex::new(Some(task)),
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

    /// Stops the loop and the node cleanly.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        let task = self.task.lock().expect("payer").take();
        if let Some(task) = task {
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
    mut ended: mpsc::UnboundedReceiver<(String, Result<(), String>)>,
    shutdown: CancellationToken,
) {
    pay_approved(&node, &core);
    let mut commands = tokio::time::interval(COMMAND_POLL);
    commands.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            Some((peer, push)) = inbox.recv() => on_push(&node, &core, peer, push),
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
                    if !run_command(&node, &core, &q.command) {
                        // Not saved: it stays queued, and the ones after it wait.
                        break;
                    }
                    q.done();
                }
                pay_approved(&node, &core);
            }
        }
    }
}

/// Applies and saves a command; false if it could not be saved.
fn run_command(node: &Node, core: &Core, command: &Command) -> bool {
    let applied = core.update(|s| control::apply(s, command, Utc::now()));
    match applied {
        Ok(Ok(())) => {
            if let Command::Reject { push_id } = command {
                let peer = core
                    .state
                    .lock()
                    .expect("payer state")
                    .payments
                    .values()
                    .find(|p| &p.push_id == push_id)
                    .map(|p| p.peer.clone());
                if let Some(peer) = peer {
                    reply_to(
                        node,
                        &peer,
                        push_id,
                        ReplyStatus::Rejected(RejectReason::Declined),
                    );
                }
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "payer command refused"),
        Err(e) => {
            tracing::error!(error = %e, "payer command not saved; will retry");
            return false;
        }
    }
    true
}

/// Pays the approved payments (outside any allowance).
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
    let now = Utc::now();
    let decision = core
        .state
        .lock()
        .expect("payer state")
        .decide(&checked, now);
    tracing::info!(push = %push_id, payee = %checked.payee, amount_msat = checked.amount_msat, ?decision, "push received");
    let record = |status: Status, window_start: Option<i64>| {
        core.update(|s| {
            s.payments.insert(
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
                    window_start,
                    received_at: now.timestamp(),
                    reason: None,
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
                Status::Failed | Status::Rejected => {
                    ReplyStatus::Rejected(RejectReason::DuplicatePaymentHash)
                }
            }
        }
        Decision::Reject(reason) => ReplyStatus::Rejected(reason),
        Decision::Hold => match record(Status::PendingApproval, None) {
            Ok(()) => ReplyStatus::PendingApproval,
            Err(e) => {
                // Not recorded: say nothing, the merchant sends it again.
                tracing::error!(error = %e, "cannot record a push");
                return;
            }
        },
        Decision::Pay { window_start } => {
            // The spend is on disk before the payment leaves.
            if let Err(e) = record(Status::Paying, Some(window_start)) {
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
    let checked = CheckedInvoice {
        payment_hash: hex::encode(invoice.payment_hash()),
        payee: invoice.get_payee_pub_key().to_string(),
        amount_msat: push.amount_msat,
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
