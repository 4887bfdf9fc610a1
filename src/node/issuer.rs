//! The node's side of the billing books: it issues BOLT11 invoices for the
//! payment requests the billing engine queues, and it checks and records
//! incoming payments against them (see `billing::payments`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use chrono::{DateTime, Utc};
use lightning::types::payment::PaymentHash;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::billing::payments::{
    self, InvoiceIssuer, IssueError, IssueRequest, IssuedInvoice, Settlement,
};
use crate::clock::{Clock, Clocks};
use crate::domain::Msat;
use crate::error::Error;
use crate::store;
use ln_node::events::hash_hex;
use ln_node::{InvoiceError, Node, PaymentSink, Verdict};

/// Checks incoming payments against the payment requests in the database and
/// settles them once claimed (at the invoice's merchant's time).
pub struct BillingSink {
    pub db: DatabaseConnection,
    pub clocks: Clocks,
}

#[async_trait::async_trait]
impl PaymentSink for BillingSink {
    async fn may_claim(
        &self,
        payment_hash: &PaymentHash,
        amount_msat: u64,
    ) -> anyhow::Result<Verdict> {
        let amount = Msat::try_from(amount_msat)?;
        Ok(
            match payments::check_payment(&self.db, &hash_hex(payment_hash), amount).await? {
                Ok(()) => Verdict::Claim,
                Err(rejection) => Verdict::Reject(rejection.to_string()),
            },
        )
    }

    /// An error makes LDK hand the payment again later, so only a database
    /// that cannot be reached is one: any other error would come back on
    /// every replay and block every later event. Those are logged and the
    /// event completed (the settle path records what it can against the row).
    async fn claimed(&self, payment_hash: &PaymentHash, amount_msat: u64) -> anyhow::Result<()> {
        let amount = Msat::try_from(amount_msat)?;
        let outcome = match payments::settle(
            &self.db,
            &self.clocks,
            &hash_hex(payment_hash),
            amount,
        )
        .await
        {
            Ok(outcome) => outcome,
            Err(Error::Database(e)) if store::is_transient(&e) => return Err(e.into()),
            Err(e) => {
                tracing::error!(payment_hash = %payment_hash, amount_msat, error = %e, "a claimed payment cannot be recorded");
                return Ok(());
            }
        };
        match outcome {
            Settlement::InvoicePaid { invoice_id } => {
                tracing::info!(invoice = %invoice_id, "invoice paid")
            }
            Settlement::AlreadySettled => {
                tracing::info!(payment_hash = %payment_hash, "payment already recorded")
            }
            Settlement::RecordedOnly { invoice_id } => {
                tracing::warn!(invoice = %invoice_id, "payment for an invoice that could no longer be paid: held as the customer's credit")
            }
        }
        Ok(())
    }
}

/// Issues BOLT11 invoices with the node.
pub struct NodeIssuer(pub Arc<Node>);

#[async_trait::async_trait]
impl InvoiceIssuer for NodeIssuer {
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedInvoice, IssueError> {
        let expiry = request
            .expiry
            .to_std()
            .map_err(|e| IssueError::permanent(format!("expiry: {e}")))?;
        // A node id that does not parse names no channel: no route hints.
        let payer = request
            .customer_node_id
            .as_deref()
            .and_then(|id| PublicKey::from_str(id).ok());
        let invoice = self
            .0
            .create_invoice(request.amount.as_u64(), &request.description, expiry, payer)
            .map_err(|e| match e {
                InvoiceError::Refused(m) => IssueError::permanent(m),
                InvoiceError::Failed(m) => IssueError::transient(m),
            })?;
        let expires_at = i64::try_from(invoice.expires_at)
            .ok()
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .ok_or_else(|| IssueError::permanent("expiry out of range"))?;
        Ok(IssuedInvoice {
            bolt11: invoice.bolt11,
            payment_hash: invoice.payment_hash,
            expires_at,
        })
    }
}

/// Payment requests issued per transaction.
pub const BATCH: u64 = 100;

/// The node role's loop: every `every`, issue BOLT11 invoices for the pending
/// payment requests, until `shutdown`.
pub async fn run_issuer(
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    node: Arc<Node>,
    expiry: chrono::Duration,
    every: Duration,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let issuer = NodeIssuer(node);
    loop {
        loop {
            match payments::issue_pending(&db, &issuer, clock.now(), expiry, BATCH).await {
                Ok(0) => break,
                Ok(n) => tracing::info!(issued = n, "issued BOLT11 invoices"),
                Err(e) => {
                    tracing::error!(error = %e, "issuing invoices failed; retrying");
                    break;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
    }
}
