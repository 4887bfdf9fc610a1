//! Money coming in, and the boundary with the Lightning node role.
//!
//! The billing engine never talks to the node: it leaves `pending` payment
//! requests, which the node role claims with [`issue_pending`] through the
//! [`InvoiceIssuer`] trait (LDK in production). When a payment arrives the node
//! asks [`check_payment`] before claiming it and calls [`settle`] once claimed.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::balance::{self, Unapplied};
use super::delivery;
use super::grants;
use super::lifecycle;
use super::payment_requests as requests;
use crate::clock::Clocks;
use crate::domain::{EventType, InvoiceEvent, InvoiceStatus, Msat, PaymentRequestStatus, Period};
use crate::error::{Error, Result};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, customers, invoices, merchants, payment_requests, queue};
use push_protocol::grant::{GrantId, MAX_DESCRIPTION_BYTES};

/// What the node is asked to issue.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    pub payment_request_id: String,
    pub amount: Msat,
    /// "<merchant> - <plan or description> - <period>", on one line, then
    /// `\npushbill-grant:<grant>` when a grant covers the invoice (see
    /// [`push_protocol::grant::describe`]): the BOLT11's signed description.
    pub description: String,
    /// The grant the description commits to ([`grants::covering`]).
    pub grant: Option<GrantId>,
    pub expiry: Duration,
    /// The customer's node id, when it has one: the BOLT11's route hints
    /// name only the merchant node's channels with it (none without), never
    /// another customer's.
    pub customer_node_id: Option<String>,
}

pub use super::payment_requests::IssuedInvoice;

#[derive(Debug, thiserror::Error)]
#[error("the node could not issue an invoice: {message}")]
pub struct IssueError {
    pub message: String,
    /// The node will never issue this request (e.g. an amount no BOLT11 can
    /// carry): retrying cannot help.
    pub permanent: bool,
}

impl IssueError {
    /// A failure that may pass: the request is tried again.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// The request can never be issued: it fails.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

/// The node side of the payment-request queue.
#[async_trait::async_trait]
pub trait InvoiceIssuer: Send + Sync {
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedInvoice, IssueError>;
}

/// Claims up to `batch` pending payment requests, has the node issue a BOLT11
/// for each, stores it and queues a push to the customer's node when asked.
/// A request the node fails to issue for a passing reason stays pending and
/// is retried next time; one it can never issue is `failed`
/// (`payment_request.failed`, with its `failure_reason`).
pub async fn issue_pending(
    db: &DatabaseConnection,
    issuer: &dyn InvoiceIssuer,
    now: DateTime<Utc>,
    expiry: Duration,
    batch: u64,
) -> Result<usize> {
    let txn = store::begin_write(db).await?;
    let query = payment_requests::Entity::find()
        .filter(payment_requests::Column::Status.eq(PaymentRequestStatus::Pending.as_str()))
        .order_by_asc(payment_requests::Column::CreatedAt)
        .order_by_asc(payment_requests::Column::Id)
        .limit(batch);
    let pending = queue::claim(query, &txn).await?;
    // One query each for the batch's invoices, merchants, customers and grants.
    let invoices = by_id(
        store::find_by_ids::<invoices::Entity>(
            &txn,
            invoices::Column::Id,
            pending.iter().map(|r| r.invoice_id.as_str()),
        )
        .await?,
        |i| &i.id,
    );
    let merchants = by_id(
        store::find_by_ids::<merchants::Entity>(
            &txn,
            merchants::Column::Id,
            pending.iter().map(|r| r.merchant_id.as_str()),
        )
        .await?,
        |m| &m.id,
    );
    let customers = by_id(
        store::find_by_ids::<customers::Entity>(
            &txn,
            customers::Column::Id,
            invoices.values().map(|i| i.customer_id.as_str()),
        )
        .await?,
        |c| &c.id,
    );
    let batch_invoices: Vec<&invoices::Model> = invoices.values().collect();
    let grants = grants::covering_all(&txn, now, &batch_invoices, &customers).await?;
    let nodes: HashMap<String, Option<String>> = customers
        .values()
        .map(|c| (c.id.clone(), c.node_id.clone()))
        .collect();
    let targets = delivery::targets(&txn, &batch_invoices, &nodes).await?;
    let mut events = EventBatch::new();
    let mut issued = Vec::with_capacity(pending.len());
    for req in &pending {
        let invoice = invoices.get(&req.invoice_id).ok_or_else(|| {
            Error::corrupt(format!("payment request {}: invoice missing", req.id))
        })?;
        let merchant = merchants.get(&req.merchant_id).ok_or_else(|| {
            Error::corrupt(format!("payment request {}: merchant missing", req.id))
        })?;
        let grant = grants.get(&invoice.id).copied();
        let customer_node = customers
            .get(&invoice.customer_id)
            .and_then(|c| c.node_id.clone());
        let request = IssueRequest {
            payment_request_id: req.id.clone(),
            amount: Msat::try_from(req.amount_msat).map_err(|e| Error::corrupt(e.to_string()))?,
            description: push_protocol::grant::describe(
                &describe(&merchant.name, invoice),
                grant.as_ref(),
                MAX_DESCRIPTION_BYTES,
            ),
            grant,
            expiry,
            customer_node_id: customer_node.clone(),
        };
        match issuer.issue(&request).await {
            Ok(issued_invoice) => issued.push(requests::Issued {
                request: req,
                target: targets.get(&invoice.id).cloned(),
                invoice: issued_invoice,
            }),
            Err(e) if e.permanent => {
                tracing::warn!(payment_request = %req.id, error = %e, "cannot be issued; failed");
                requests::fail(&txn, now, req, &e.message, &mut events).await?;
            }
            Err(e) => {
                tracing::warn!(payment_request = %req.id, error = %e, "issue failed; will retry");
            }
        }
    }
    let count = issued.len();
    requests::issue_all(&txn, now, issued).await?;
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(count)
}

/// Rows by their id.
fn by_id<M>(rows: Vec<M>, id: impl Fn(&M) -> &String) -> HashMap<String, M> {
    rows.into_iter()
        .map(|row| (id(&row).clone(), row))
        .collect()
}

/// "<merchant> - <plan> - <first day> to <last day>", as the payer's wallet
/// shows it (both days included, see [`Period::days`]).
fn describe(merchant: &str, invoice: &invoices::Model) -> String {
    let what = invoice.description.as_deref().unwrap_or(&invoice.number);
    match (invoice.period_start, invoice.period_end) {
        (Some(start), Some(end)) => {
            format!("{merchant} - {what} - {}", Period { start, end }.days())
        }
        _ => format!("{merchant} - {what}"),
    }
}

/// Why an incoming payment is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRejection {
    #[error("unknown payment hash")]
    UnknownPaymentHash,
    #[error("this payment request is already paid")]
    AlreadyPaid,
    #[error("this payment request is {0}")]
    RequestNotLive(String),
    #[error("the invoice is {0}")]
    InvoiceNotPayable(String),
    #[error("amount too small: expected {expected} msat, received {received} msat")]
    AmountTooSmall { expected: i64, received: i64 },
}

/// Decides, before the node claims a payment, whether it may be claimed.
pub async fn check_payment(
    db: &impl ConnectionTrait,
    payment_hash: &str,
    amount: Msat,
) -> Result<Result<(), PaymentRejection>> {
    let Some(req) = payment_requests::Entity::find()
        .filter(payment_requests::Column::PaymentHash.eq(payment_hash))
        .one(db)
        .await?
    else {
        return Ok(Err(PaymentRejection::UnknownPaymentHash));
    };
    if req.status == PaymentRequestStatus::Paid.as_str() {
        return Ok(Err(PaymentRejection::AlreadyPaid));
    }
    if req.status != PaymentRequestStatus::Issued.as_str() {
        return Ok(Err(PaymentRejection::RequestNotLive(req.status)));
    }
    let invoice = invoices::Entity::find_by_id(&req.invoice_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt(format!("payment request {}: invoice missing", req.id)))?;
    let status =
        InvoiceStatus::parse(&invoice.status).map_err(|e| Error::corrupt(e.to_string()))?;
    if status.apply(InvoiceEvent::Pay).is_err() {
        return Ok(Err(PaymentRejection::InvoiceNotPayable(invoice.status)));
    }
    if amount.to_i64() < req.amount_msat {
        return Ok(Err(PaymentRejection::AmountTooSmall {
            expected: req.amount_msat,
            received: amount.to_i64(),
        }));
    }
    Ok(Ok(()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The invoice is now paid.
    InvoicePaid { invoice_id: String },
    /// This payment hash was settled before: nothing changed.
    AlreadySettled,
    /// Money arrived for an invoice that can no longer be paid (voided between
    /// check and claim, or paid meanwhile through another payment request):
    /// the payment is recorded and held as the customer's credit
    /// (`payment.unapplied`), the invoice left as it is.
    RecordedOnly { invoice_id: String },
}

/// Records a claimed payment: the payment request and the invoice become paid,
/// `invoice.paid` is recorded (what was paid beyond the request goes to the
/// customer's balance), and a past-due or unpaid subscription with no
/// other overdue invoice becomes active again. Idempotent per payment hash.
/// Dated at the invoice's merchant's time (`clocks`).
pub async fn settle(
    db: &DatabaseConnection,
    clocks: &Clocks,
    payment_hash: &str,
    amount: Msat,
) -> Result<Settlement> {
    let txn = store::begin_write(db).await?;
    let by_hash = payment_requests::Entity::find()
        .filter(payment_requests::Column::PaymentHash.eq(payment_hash));
    let invoice_id = by_hash
        .clone()
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("payment_request", payment_hash))?
        .invoice_id;
    // Lock order everywhere: invoice, then its payment requests, then the subscription.
    let invoice = queue::lock_one(invoices::Entity::find_by_id(&invoice_id), &txn)
        .await?
        .ok_or_else(|| Error::corrupt(format!("invoice {invoice_id} missing")))?;
    let req = queue::lock_one(by_hash, &txn)
        .await?
        .ok_or_else(|| Error::not_found("payment_request", payment_hash))?;
    if req.status == PaymentRequestStatus::Paid.as_str() {
        return Ok(Settlement::AlreadySettled);
    }
    let now = clocks.now_for(&txn, &invoice.merchant_id).await?;
    let paid_req = requests::mark_paid(&txn, now, &req, amount).await?;

    let mut events = EventBatch::new();
    let payable = InvoiceStatus::parse(&invoice.status)
        .ok()
        .and_then(|s| s.apply(InvoiceEvent::Pay).ok());
    let Some(paid) = payable else {
        // Voided, paid meanwhile, or unreadable: the money is the customer's credit.
        let why = Unapplied::InvoiceNotPayable(&invoice.status);
        balance::hold_unapplied(
            &txn,
            now,
            &paid_req,
            &invoice,
            amount.to_i64(),
            why,
            &mut events,
        )
        .await?;
        events.insert(&txn).await?;
        txn.commit().await?;
        return Ok(Settlement::RecordedOnly {
            invoice_id: invoice.id,
        });
    };
    requests::cancel_live(&txn, now, &invoice.id).await?;
    let mut invoice = invoice;
    invoice.status = paid.as_str().to_owned();
    invoice.paid_at = Some(now);
    invoice.next_dunning_at = None;
    invoice.updated_at = now;
    store::save(&txn, invoice.clone()).await?;
    events.push(
        &invoice.merchant_id,
        EventType::InvoicePaid,
        "invoice",
        &invoice.id,
        objects::Invoice::from(&invoice),
        now,
    );
    let excess = amount.to_i64() - req.amount_msat;
    let why = Unapplied::Overpayment;
    balance::hold_unapplied(&txn, now, &paid_req, &invoice, excess, why, &mut events).await?;
    events.insert(&txn).await?;
    if let Some(sub_id) = &invoice.subscription_id {
        lifecycle::recover_or_record(&txn, now, sub_id).await?;
    }
    txn.commit().await?;
    Ok(Settlement::InvoicePaid {
        invoice_id: invoice.id,
    })
}
