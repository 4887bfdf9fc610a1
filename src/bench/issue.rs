//! `pushbill bench issue`: N pending payment requests issued as BOLT11 by
//! the node role's issuer (the real path: `billing::payments::issue_pending`
//! with the LDK node's `NodeIssuer`, batches of 100, on a throwaway
//! database), versus raw recoverable secp256k1 signatures of invoice-sized
//! messages on one core, by the same secp256k1 library in the same process.

use std::sync::Arc;
use std::time::Instant;

use bitcoin::hashes::{Hash, sha256};
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use chrono::Utc;
use lightning::types::payment::PaymentHash;

use super::lab::{Lab, ThrowawayDb};
use super::report::{Comparison, Run};
use crate::billing::{engine, payments};
use crate::node::issuer::{self, NodeIssuer};
use ln_node::{Inboxes, Node, PaymentSink, Verdict};

/// The bytes a BOLT11 signature covers are about this long for the
/// invoices pushbill issues (human-readable part, timestamp, payment hash
/// and secret, description, expiry, features, payee).
const INVOICE_SIZED: usize = 320;

/// The bench's node is paid by no one.
pub(super) struct NoPayments;

#[async_trait::async_trait]
impl PaymentSink for NoPayments {
    async fn may_claim(&self, _: &PaymentHash, _: u64) -> anyhow::Result<Verdict> {
        Ok(Verdict::Reject("benchmark node".into()))
    }
    async fn claimed(&self, _: &PaymentHash, _: u64) -> anyhow::Result<()> {
        Ok(())
    }
}

pub async fn issue(
    requests: usize,
    runs: usize,
    postgres: Option<&str>,
) -> anyhow::Result<Comparison> {
    let mut lab = Lab::start().await?;
    let node = lab.node(Arc::new(NoPayments), Inboxes::default()).await?;
    let backend = if postgres.is_some() {
        "postgresql"
    } else {
        "sqlite"
    };
    let mut report = Comparison::new(
        format!("BOLT11 issuance by the node role, {requests} pending payment requests, {backend}"),
        "invoices/s",
    )
    .ceiling(
        format!("recoverable secp256k1 signatures of {INVOICE_SIZED}-byte messages, one core"),
        "signatures/s",
    );
    let outcome = async {
        for _ in 0..runs.max(1) {
            report
                .runs
                .push(issue_run(&node, requests, postgres).await?);
            report.ceiling_runs.push(sign_run(requests.max(1_000)));
        }
        anyhow::Ok(())
    }
    .await;
    lab.shutdown().await;
    outcome?;
    Ok(report.finish())
}

/// Seeds `n` due subscriptions, bills them (untimed: `n` pending payment
/// requests, half of them to push), then times their issuance.
async fn issue_run(node: &Arc<Node>, n: usize, postgres: Option<&str>) -> anyhow::Result<Run> {
    let lab_db = ThrowawayDb::create(postgres, 2).await?;
    let result = async {
        let db = &lab_db.db;
        let now = Utc::now();
        super::seed_due_subscriptions(db, now, now - chrono::Duration::minutes(1), n, 1).await?;
        engine::run_due(db, now, 500, &engine::Scope::All).await?;
        let node_issuer = NodeIssuer(Arc::clone(node));
        let expiry = chrono::Duration::hours(24);
        let started = Instant::now();
        let mut issued = 0;
        loop {
            match payments::issue_pending(db, &node_issuer, Utc::now(), expiry, issuer::BATCH)
                .await?
            {
                0 => break,
                k => issued += k,
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(issued == n, "{issued} of {n} payment requests were issued");
        Ok(Run::new(
            issued,
            seconds,
            format!("{issued} in {seconds:.2} s"),
        ))
    }
    .await;
    lab_db.drop().await?;
    result
}

/// Signs `n` distinct invoice-sized messages (hashing each, as a BOLT11
/// signature does) with a recoverable signature, on this thread.
fn sign_run(n: usize) -> Run {
    let secp = Secp256k1::signing_only();
    let key = SecretKey::from_slice(&sha256::Hash::hash(b"pushbill bench").to_byte_array())
        .expect("a valid key");
    let mut message = [7u8; INVOICE_SIZED];
    let mut check = 0u8;
    let started = Instant::now();
    for i in 0..n {
        message[..8].copy_from_slice(&(i as u64).to_le_bytes());
        let digest = sha256::Hash::hash(&message).to_byte_array();
        let signature = secp.sign_ecdsa_recoverable(&Message::from_digest(digest), &key);
        check ^= signature.serialize_compact().1[0];
    }
    let seconds = started.elapsed().as_secs_f64();
    std::hint::black_box(check);
    Run::new(n, seconds, format!("{n} in {seconds:.2} s"))
}
