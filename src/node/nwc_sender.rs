//! The merchant's side of Nostr Wallet Connect: the node role claims the
//! due `nwc` attempts of the push queue and sends each payment request as
//! `pay_invoice` to the subscription's wallet, through a client kept per
//! connection; how it ended is recorded by [`super::push_queue::finish`],
//! with the same events as a push (`invoice.pushed`, `invoice.push_failed`,
//! whose attempt has `method: "nwc"`).
//!
//! - A preimage of the payment hash: `paid` (the invoice itself is paid
//!   when the merchant's node receives the money).
//! - A NIP-47 error (quota_exceeded, insufficient_balance, unauthorized...):
//!   `rejected`, final for this payment request; dunning asks again.
//! - No answer, no relay, or rate_limited: tried again with the push
//!   back-off. Before every send the invoice must still be open, so a
//!   payment that went through while the answer was lost is not asked again.
//! - A payment hash a wallet answered success for is never sent again: the
//!   attempt is final, and a later one for the same request is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use super::push_queue::{self as queue, Claimed, Outcome};
use super::push_sender::PushPolicy;
use super::send_loop::Sender;
use crate::clock::Clock;
use crate::domain::{PushAttemptStatus, Rail, WalletConnectionStatus};
use crate::nwc::seal::SealKey;
use crate::nwc::wallet::{Cipher, Wallet};
use crate::store::{push_attempts, wallet_connections};

pub struct NwcSender {
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub seal: SealKey,
    /// `reply_timeout` is how long a wallet is waited for.
    pub policy: PushPolicy,
    /// A client per wallet connection, made on its first send.
    wallets: Mutex<HashMap<String, Wallet>>,
}

impl NwcSender {
    pub fn new(
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
        seal: SealKey,
        policy: PushPolicy,
    ) -> NwcSender {
        NwcSender {
            db,
            clock,
            seal,
            policy,
            wallets: Mutex::default(),
        }
    }

    /// One round: tries the due attempts (at most `max_in_flight`) side by
    /// side and returns once all are recorded; how many were tried.
    pub async fn run_once(&self) -> crate::error::Result<usize> {
        super::send_loop::run_once(self).await
    }

    async fn try_send(&self, c: Claimed) -> crate::error::Result<()> {
        let outcome = self.deliver(&c).await?;
        tracing::info!(push = %c.push.id, outcome = ?outcome, "wallet payment request tried");
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

    async fn deliver(&self, c: &Claimed) -> crate::error::Result<Outcome> {
        let bolt11 = match c.payable() {
            Ok(bolt11) => bolt11,
            Err(outcome) => return Ok(outcome),
        };
        if self.wallet_paid(&c.push).await? {
            return Ok(Outcome::Dropped {
                reason: "wallet_paid".into(),
            });
        }
        let connection = match &c.push.wallet_connection_id {
            Some(id) => {
                wallet_connections::Entity::find_by_id(id)
                    .one(&self.db)
                    .await?
            }
            None => None,
        };
        let Some(connection) = connection.filter(|w| {
            w.status == WalletConnectionStatus::Active.as_str() && w.secret_sealed.is_some()
        }) else {
            if let Some(id) = &c.push.wallet_connection_id {
                self.forget(id).await;
            }
            return Ok(Outcome::Dropped {
                reason: "wallet_removed".into(),
            });
        };
        let Some(wallet) = self.wallet(&connection) else {
            return Ok(Outcome::Dropped {
                reason: "wallet_unreadable".into(),
            });
        };
        let hash: [u8; 32] = *bolt11.payment_hash().as_ref();
        Ok(match wallet.pay(&bolt11.to_string(), &hash).await {
            Ok(()) => Outcome::Pushed {
                status: PushAttemptStatus::Paid.as_str(),
            },
            Err(e) if e.is_retryable() => Outcome::NotDelivered { reason: e.reason() },
            Err(e) => Outcome::Rejected {
                reason: e.reason().to_owned(),
            },
        })
    }

    /// Whether a wallet already answered success for this attempt's payment
    /// request (its payment hash): then it is never sent again.
    async fn wallet_paid(&self, push: &push_attempts::Model) -> crate::error::Result<bool> {
        use push_attempts::Column as P;
        let paid = push_attempts::Entity::find()
            .filter(P::PaymentRequestId.eq(&push.payment_request_id))
            .filter(P::Method.eq(Rail::Nwc.as_str()))
            .filter(P::Status.eq(PushAttemptStatus::Paid.as_str()))
            .count(&self.db)
            .await?;
        Ok(paid > 0)
    }

    /// The connection's client, made from its sealed URI on first use.
    fn wallet(&self, connection: &wallet_connections::Model) -> Option<Wallet> {
        let mut wallets = self.wallets.lock().expect("wallet clients");
        if let Some(wallet) = wallets.get(&connection.id) {
            return Some(wallet.clone());
        }
        let sealed = connection.secret_sealed.as_deref()?;
        let uri = match self.seal.open(&connection.id, sealed) {
            Ok(uri) => uri,
            Err(e) => {
                tracing::error!(connection = %connection.id, error = %e, "wallet connection not opened");
                return None;
            }
        };
        let cipher = Cipher::parse(&connection.cipher).unwrap_or(Cipher::Nip04);
        let wallet = Wallet::new(&uri, cipher, self.policy.reply_timeout).ok()?;
        wallets.insert(connection.id.clone(), wallet.clone());
        Some(wallet)
    }

    /// Drops the client of a removed connection.
    async fn forget(&self, connection_id: &str) {
        let wallet = self
            .wallets
            .lock()
            .expect("wallet clients")
            .remove(connection_id);
        if let Some(wallet) = wallet {
            wallet.shutdown().await;
        }
    }

    /// Closes every client.
    pub async fn shutdown(&self) {
        let wallets: Vec<Wallet> = self
            .wallets
            .lock()
            .expect("wallet clients")
            .drain()
            .map(|(_, w)| w)
            .collect();
        for wallet in wallets {
            wallet.shutdown().await;
        }
    }
}

#[async_trait::async_trait]
impl Sender for NwcSender {
    fn slots(&self) -> usize {
        self.policy.max_in_flight
    }
    async fn claim(&self, limit: usize) -> crate::error::Result<Vec<Claimed>> {
        queue::claim_for(&self.db, Rail::Nwc, self.clock.now(), &self.policy, limit).await
    }
    async fn try_one(&self, claimed: Claimed) -> crate::error::Result<()> {
        self.try_send(claimed).await
    }
    async fn stopped(&self) {
        self.shutdown().await;
    }
}
