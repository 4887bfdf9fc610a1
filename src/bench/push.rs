//! `pushbill bench push`: pushes replied per second by subscriber nodes on
//! loopback, through the node role's real push sender, versus plain BOLT 8
//! round trips of a minimal custom message to the same peers, in the same
//! process and run.
//!
//! - The merchant: an LDK node ([`Lab::node`], the node role's
//!   `ln_node::Node`) and a throwaway database. Each figure run seeds one
//!   merchant, a customer per peer (with its node's address) and N one-off
//!   invoices spread over them, issues their BOLT11s with the node role's
//!   issuer (untimed: that is `bench issue`), which queues N pushes; then
//!   times [`send_loop::run`] with a [`PushSender`], exactly the node role's loop and policy
//!   (claim due pushes, send `push_invoice`, await `push_reply`, record the
//!   outcome and its event), until no push is left queued.
//! - The subscribers: real payers (`payer::Payer`, the subscriber's node of
//!   `pushbill payer run`) without channels and without grants, so each
//!   push is verified (BOLT11 signature, network, expiry, amount), decided,
//!   recorded durably in the payer's state file and answered
//!   `pending_approval`, as a real payer answers a push outside its grants.
//!   A push inside a grant is answered `accepted` after the same steps, and
//!   paid after the reply, so the reply rate is the same work; paying is
//!   not what this measures.
//! - The ceiling: `bench_ping` / `bench_pong` (push-protocol's wire docs),
//!   answered by each peer's message handler at once, N round trips with
//!   the push sender's concurrency ([`PushPolicy::max_in_flight`]), to the
//!   same peers in the same order.
//!
//! The merchant connects to every peer before the first run, as a running
//! node role is connected to its subscribers; figure and ceiling runs
//! alternate and each reports the median.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bitcoin::secp256k1::PublicKey;
use chrono::Utc;
use futures::StreamExt as _;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use tokio_util::sync::CancellationToken;

use super::issue::NoPayments;
use super::lab::{Lab, ThrowawayDb};
use super::report::{Comparison, Run};
use crate::billing::invoicing::{self, InvoiceDraft};
use crate::billing::payments;
use crate::catalog::customers::{self, NewCustomer};
use crate::clock::SystemClock;
use crate::domain::{Msat, NodeAddress, PushAttemptStatus};
use crate::node::issuer::{self, NodeIssuer};
use crate::node::push_sender::{self, PushPolicy, PushSender};
use crate::node::send_loop;
use crate::store::{self, events::EventBatch, push_attempts};
use ln_node::{Inboxes, Node};
use payer::state::Limits;
use payer::{Payer, PayerOptions};

/// What `bench push` is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Subscriber nodes (payers), each its own LDK node on loopback.
    pub peers: usize,
    /// Pushes per run, spread over the peers in turn.
    pub pushes: usize,
    pub runs: usize,
    /// A PostgreSQL server URL; SQLite (a temp file) otherwise.
    pub postgres: Option<String>,
    /// The node role's push policy (`[lightning]`).
    pub policy: PushPolicy,
    /// The database pool's size (`database.max_connections`).
    pub connections: u32,
}

/// A subscriber: its payer and where the merchant reaches it.
struct Peer {
    payer: Arc<Payer>,
    node_id: PublicKey,
    address: String,
}

/// How long one round trip of the ceiling may take before the bench fails.
const PONG_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn push(options: &Options) -> anyhow::Result<Comparison> {
    anyhow::ensure!(options.peers > 0, "--peers must be at least 1");
    let mut lab = Lab::start().await?;
    let mut peers = Vec::with_capacity(options.peers);
    let outcome = async {
        let merchant = lab.node(Arc::new(NoPayments), Inboxes::default()).await?;
        start_peers(&mut lab, options.peers, &mut peers).await?;
        connect_all(&merchant, &peers).await?;
        measure(&merchant, &peers, options).await
    }
    .await;
    for peer in &peers {
        peer.payer.stop().await;
    }
    lab.shutdown().await;
    outcome
}

async fn measure(
    merchant: &Arc<Node>,
    peers: &[Peer],
    options: &Options,
) -> anyhow::Result<Comparison> {
    let backend = if options.postgres.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let in_flight = options.policy.max_in_flight.max(1);
    let mut report = Comparison::new(
        format!(
            "pushes replied by {} subscriber nodes on loopback through the node role's push sender, \
             {} pushes, {in_flight} in flight, {backend}",
            peers.len(),
            options.pushes
        ),
        "pushes/s",
    )
    .ceiling(
        format!(
            "bench_ping round trips to the same peers over their BOLT 8 connections, \
             {in_flight} in flight"
        ),
        "round trips/s",
    );
    for _ in 0..options.runs.max(1) {
        report.runs.push(push_run(merchant, peers, options).await?);
        report
            .ceiling_runs
            .push(ping_run(merchant, peers, options.pushes, in_flight).await?);
    }
    Ok(report.finish())
}

/// Starts `n` payers on the lab's chain, a few at a time, into `peers`
/// (those started, also when another failed to: the caller stops them).
async fn start_peers(lab: &mut Lab, n: usize, peers: &mut Vec<Peer>) -> anyhow::Result<()> {
    let configs = (0..n)
        .map(|_| lab.node_config())
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = PayerOptions {
        // Every push is held and answered, none refused for the day's count.
        limits: Limits {
            max_requests_per_peer_per_day: u32::MAX,
        },
        ..PayerOptions::default()
    };
    let started: Vec<anyhow::Result<Peer>> = futures::stream::iter(configs)
        .map(|config| {
            let options = options.clone();
            async move {
                let payer = Payer::start_with(config.data_dir.clone(), config, options).await?;
                let node = payer.node();
                let address = format!("{}@{}", node.node_id(), node.listen_addr());
                Ok(Peer {
                    node_id: node.node_id(),
                    address,
                    payer,
                })
            }
        })
        .buffered(8)
        .collect()
        .await;
    let mut failed = None;
    for peer in started {
        match peer {
            Ok(peer) => peers.push(peer),
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Connects the merchant to every peer (the push sender would on its first
/// push to each), and checks each advertises the push feature bit.
async fn connect_all(merchant: &Node, peers: &[Peer]) -> anyhow::Result<()> {
    for peer in peers {
        push_sender::connect(merchant, peer.node_id, Some(&peer.address))
            .await
            .map_err(|reason| anyhow::anyhow!("connecting to {}: {reason}", peer.address))?;
        anyhow::ensure!(
            merchant.peer_supports_push(&peer.node_id) == Some(true),
            "{} does not take pushes",
            peer.address
        );
    }
    Ok(())
}

/// One figure run on a fresh database: seeds and issues `pushes` pushes
/// (untimed), then times the node role's push loop until none is queued.
async fn push_run(merchant: &Arc<Node>, peers: &[Peer], options: &Options) -> anyhow::Result<Run> {
    let lab_db = ThrowawayDb::create(options.postgres.as_deref(), options.connections).await?;
    let result = async {
        let db = &lab_db.db;
        seed_pushes(db, merchant, peers, options.pushes).await?;
        let queued = count_queued(db).await?;
        anyhow::ensure!(
            queued == options.pushes as u64,
            "{queued} of {} pushes were queued",
            options.pushes
        );
        let sender = PushSender {
            db: db.clone(),
            clock: Arc::new(SystemClock),
            node: Arc::clone(merchant),
            policy: options.policy.clone(),
        };
        let shutdown = CancellationToken::new();
        let started = Instant::now();
        // The node role's loop, with the node role's period.
        let running = tokio::spawn(send_loop::run(
            sender,
            Duration::from_secs(1),
            shutdown.clone(),
        ));
        while count_queued(db).await? > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        shutdown.cancel();
        running.await.context("the push loop")?;
        let replied = count_in(db, PushAttemptStatus::PendingApproval).await?;
        anyhow::ensure!(
            replied == options.pushes as u64,
            "{replied} of {} pushes were answered pending_approval ({})",
            options.pushes,
            statuses(db).await?
        );
        Ok(Run::new(
            options.pushes,
            seconds,
            format!(
                "{} replied pending_approval in {seconds:.2} s",
                options.pushes
            ),
        ))
    }
    .await;
    lab_db.drop().await?;
    result
}

/// One merchant, a customer per peer, `n` one-off invoices of 1,000 sat
/// spread over the customers in turn, their BOLT11s issued by the node
/// (which queues one push each).
async fn seed_pushes(
    db: &DatabaseConnection,
    node: &Arc<Node>,
    peers: &[Peer],
    n: usize,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let merchant = crate::catalog::merchants::create(db, now, "Bench Push Merchant", "BP").await?;
    let mut customer_ids = Vec::with_capacity(peers.len());
    for peer in peers {
        let customer = NewCustomer {
            node_address: Some(NodeAddress::parse(&peer.address)?),
            ..NewCustomer::default()
        };
        customer_ids.push(customers::create(db, now, &merchant.id, customer).await?.id);
    }
    let amount = Msat::from_sat(1_000)?;
    let drafts: Vec<InvoiceDraft> = (0..n)
        .map(|i| InvoiceDraft {
            merchant_id: merchant.id.clone(),
            customer_id: customer_ids[i % customer_ids.len()].clone(),
            subscription_id: None,
            plan_id: None,
            description: Some(format!("bench push {i}")),
            period: None,
            amount,
            due_at: now + chrono::Duration::days(1),
            push: true,
        })
        .collect();
    let mut drafts = drafts.into_iter().peekable();
    while drafts.peek().is_some() {
        let chunk: Vec<InvoiceDraft> = drafts.by_ref().take(500).collect();
        let txn = store::begin_write(db).await?;
        let mut events = EventBatch::new();
        invoicing::create_invoices(&txn, now, chunk, &mut events).await?;
        events.insert(&txn).await?;
        txn.commit().await?;
    }
    let node_issuer = NodeIssuer(Arc::clone(node));
    let expiry = chrono::Duration::hours(24);
    while payments::issue_pending(db, &node_issuer, Utc::now(), expiry, issuer::BATCH).await? > 0 {}
    Ok(())
}

async fn count_in(db: &DatabaseConnection, status: PushAttemptStatus) -> anyhow::Result<u64> {
    Ok(push_attempts::Entity::find()
        .filter(push_attempts::Column::Status.eq(status.as_str()))
        .count(db)
        .await?)
}

async fn count_queued(db: &DatabaseConnection) -> anyhow::Result<u64> {
    count_in(db, PushAttemptStatus::Queued).await
}

/// "status: count, ..." of every push, for an error message.
async fn statuses(db: &DatabaseConnection) -> anyhow::Result<String> {
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for push in push_attempts::Entity::find().all(db).await? {
        let key = format!(
            "{}{}",
            push.status,
            push.reason.map(|r| format!(" ({r})")).unwrap_or_default()
        );
        *counts.entry(key).or_default() += 1;
    }
    Ok(counts
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", "))
}

/// `n` `bench_ping` round trips to `peers` in turn, `in_flight` at once.
async fn ping_run(
    merchant: &Arc<Node>,
    peers: &[Peer],
    n: usize,
    in_flight: usize,
) -> anyhow::Result<Run> {
    let next = &AtomicUsize::new(0);
    let nonce_base: u64 = rand::random::<u32>().into();
    let worker = move || async move {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                return anyhow::Ok(());
            }
            let peer = &peers[i % peers.len()];
            let pong = merchant.send_bench_ping(peer.node_id, (nonce_base << 32) + i as u64);
            tokio::time::timeout(PONG_TIMEOUT, pong)
                .await
                .map_err(|_| anyhow::anyhow!("no bench_pong from {}", peer.address))?
                .map_err(|_| anyhow::anyhow!("bench_pong waiter dropped"))?;
        }
    };
    let started = Instant::now();
    let results = futures::future::join_all((0..in_flight).map(|_| worker())).await;
    let seconds = started.elapsed().as_secs_f64();
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(Run::new(n, seconds, format!("{n} in {seconds:.2} s")))
}
