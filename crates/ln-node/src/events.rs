//! The one place LDK events are handled. Incoming payments go through
//! pushbill's [`PaymentSink`] (the billing books) before they are claimed and
//! after; outgoing payments wake whoever waits on them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bitcoin::absolute::LockTime;
use bitcoin::hashes::{Hash, sha256};
use bitcoin::transaction::Version;
use bitcoin::{Amount, Transaction, TxOut};
use lightning::events::{Event, PaymentFailureReason, ReplayEvent};
use lightning::ln::channelmanager::PaymentId;
use lightning::types::payment::{PaymentHash, PaymentPreimage};
use lightning::util::persist::KVStoreSync;
use lightning::util::ser::Writeable;
use tokio::sync::oneshot;

use crate::bitcoind::BitcoindClient;
use crate::types::{ChannelManager, Store};
use crate::{PaymentSink, Verdict};

/// How an outgoing payment ended.
pub type PaymentOutcome = Result<PaymentPreimage, String>;

/// Outgoing payments someone is waiting on, by payment id.
#[derive(Default)]
pub struct OutboundPayments {
    waiting: Mutex<HashMap<PaymentId, oneshot::Sender<PaymentOutcome>>>,
}

impl OutboundPayments {
    pub fn wait_for(&self, id: PaymentId) -> oneshot::Receiver<PaymentOutcome> {
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().expect("outbound").insert(id, tx);
        rx
    }

    fn finish(&self, id: PaymentId, outcome: PaymentOutcome) {
        if let Some(tx) = self.waiting.lock().expect("outbound").remove(&id) {
            let _ = tx.send(outcome);
        }
    }
}

pub struct EventHandler {
    pub channel_manager: Arc<ChannelManager>,
    pub bitcoind: Arc<BitcoindClient>,
    pub sink: Arc<dyn PaymentSink>,
    pub outbound: Arc<OutboundPayments>,
    pub store: Arc<Store>,
}

impl EventHandler {
    /// Handles one event. `Err(ReplayEvent)` makes LDK hand the event again
    /// later (it stays in the persisted channel manager until handled), which
    /// is what happens when pushbill's database cannot be reached.
    pub async fn handle(&self, event: Event) -> Result<(), ReplayEvent> {
        match event {
            Event::FundingGenerationReady {
                temporary_channel_id,
                counterparty_node_id,
                channel_value_satoshis,
                output_script,
                ..
            } => {
                let unfunded = Transaction {
                    version: Version::TWO,
                    lock_time: LockTime::ZERO,
                    input: vec![],
                    output: vec![TxOut {
                        value: Amount::from_sat(channel_value_satoshis),
                        script_pubkey: output_script,
                    }],
                };
                let funded = match self.bitcoind.fund_and_sign(&unfunded).await {
                    Ok(tx) => tx,
                    Err(e) => {
                        tracing::error!(error = %e, "could not fund the channel; abandoning it");
                        let _ = self.channel_manager.force_close_broadcasting_latest_txn(
                            &temporary_channel_id,
                            &counterparty_node_id,
                            "funding failed".into(),
                        );
                        return Ok(());
                    }
                };
                if let Err(e) = self.channel_manager.funding_transaction_generated(
                    temporary_channel_id,
                    counterparty_node_id,
                    funded,
                ) {
                    tracing::error!(error = ?e, "LDK refused the funding transaction");
                }
            }
            Event::PaymentClaimable {
                payment_hash,
                amount_msat,
                purpose,
                ..
            } => {
                let Some(preimage) = purpose.preimage() else {
                    tracing::warn!(payment_hash = %payment_hash, "payment without a preimage we know; failing it back");
                    self.channel_manager.fail_htlc_backwards(&payment_hash);
                    return Ok(());
                };
                match self.sink.may_claim(&payment_hash, amount_msat).await {
                    Ok(Verdict::Claim) => self.channel_manager.claim_funds(preimage),
                    Ok(Verdict::Reject(reason)) => {
                        tracing::warn!(payment_hash = %payment_hash, amount_msat, %reason, "payment refused; failing it back");
                        self.channel_manager.fail_htlc_backwards(&payment_hash);
                    }
                    Err(e) => {
                        tracing::error!(payment_hash = %payment_hash, error = %e, "cannot check the payment now; will retry");
                        return Err(replay_later().await);
                    }
                }
            }
            Event::PaymentClaimed {
                payment_hash,
                amount_msat,
                ..
            } => {
                if let Err(e) = self.sink.claimed(&payment_hash, amount_msat).await {
                    tracing::error!(payment_hash = %payment_hash, error = %e, "cannot record the payment now; will retry");
                    return Err(replay_later().await);
                }
                tracing::info!(payment_hash = %payment_hash, amount_msat, "payment received");
            }
            Event::PaymentSent {
                payment_id,
                payment_hash,
                payment_preimage,
                fee_paid_msat,
                ..
            } => {
                tracing::info!(payment_hash = %payment_hash, fee_paid_msat, "payment sent");
                if let Err(e) = self.sink.sent(&payment_hash).await {
                    tracing::error!(payment_hash = %payment_hash, error = %e, "cannot record the sent payment now; will retry");
                    return Err(replay_later().await);
                }
                if let Some(id) = payment_id {
                    self.outbound.finish(id, Ok(payment_preimage));
                }
            }
            Event::PaymentFailed {
                payment_id,
                payment_hash,
                reason,
            } => {
                let reason = describe_failure(reason);
                tracing::warn!(payment_id = %payment_id, %reason, "payment failed");
                let hash = payment_hash.unwrap_or(PaymentHash(payment_id.0));
                if let Err(e) = self.sink.send_failed(&hash, &reason).await {
                    tracing::error!(payment_hash = %hash, error = %e, "cannot record the failed payment now; will retry");
                    return Err(replay_later().await);
                }
                self.outbound.finish(payment_id, Err(reason));
            }
            Event::SpendableOutputs {
                outputs,
                channel_id,
            } => {
                // Keep every descriptor: with the seed they are enough to
                // sweep the funds (LDK's OutputSweeper is not wired yet).
                for output in outputs {
                    let bytes = output.encode();
                    let key = sha256::Hash::hash(&bytes).to_string();
                    if let Err(e) = self
                        .store
                        .write("pushbill", "spendable_outputs", &key, bytes)
                    {
                        tracing::error!(error = %e, "could not record a spendable output; will retry");
                        return Err(replay_later().await);
                    }
                }
                tracing::info!(channel_id = ?channel_id, "spendable outputs recorded");
            }
            Event::ChannelPending {
                channel_id,
                counterparty_node_id,
                ..
            } => tracing::info!(%channel_id, %counterparty_node_id, "channel pending"),
            Event::ChannelReady {
                channel_id,
                counterparty_node_id,
                ..
            } => tracing::info!(%channel_id, %counterparty_node_id, "channel ready"),
            Event::ChannelClosed {
                channel_id, reason, ..
            } => tracing::info!(%channel_id, %reason, "channel closed"),
            Event::OpenChannelRequest { .. } => {
                // Inbound channels are accepted automatically (no manual acceptance).
            }
            Event::BumpTransaction(_) => {
                // Anchor channels are not negotiated, so no bumping is asked for.
                tracing::warn!("unexpected bump-transaction event (anchors are off)");
            }
            other => tracing::debug!(event = ?other, "lightning event"),
        }
        Ok(())
    }
}

/// LDK hands a failed event straight back: wait a little first, so an
/// outage of the database is retried at a calm pace instead of in a busy loop.
async fn replay_later() -> ReplayEvent {
    tokio::time::sleep(REPLAY_BACKOFF).await;
    ReplayEvent()
}

const REPLAY_BACKOFF: std::time::Duration = std::time::Duration::from_millis(500);

fn describe_failure(reason: Option<PaymentFailureReason>) -> String {
    match reason {
        Some(r) => format!("{r:?}"),
        None => "unknown".into(),
    }
}

/// Hex of a payment hash, the form pushbill stores.
pub fn hash_hex(hash: &PaymentHash) -> String {
    hex::encode(hash.0)
}
