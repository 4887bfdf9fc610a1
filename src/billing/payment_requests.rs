//! Payment requests, the BOLT11s an invoice is paid through, from birth to
//! end. A request is born pending (the node role issues its BOLT11), is
//! pushed to the customer's node when it has one (again on a dunning
//! retry), and ends paid, expired, canceled, or failed (the node can never
//! issue it); an invoice has at most one live (pending or issued) request.
//!
//! Every change to a `payment_requests` row, and every push queued for one,
//! is made here, inside the caller's transaction, with its events in the
//! caller's batch.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QuerySelect,
};

use super::delivery::{self, Target};
use crate::domain::ids::PaymentRequestId;
use crate::domain::{EventType, Msat, PaymentRequestStatus, text};
use crate::error::Result;
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, customers, invoices, payment_requests};

/// A BOLT11 invoice the node issued.
#[derive(Debug, Clone)]
pub struct IssuedInvoice {
    pub bolt11: String,
    /// Hex of the 32-byte payment hash.
    pub payment_hash: String,
    pub expires_at: DateTime<Utc>,
}

/// The statuses of a live request: waiting for its BOLT11, or issued.
pub const LIVE: [PaymentRequestStatus; 2] =
    [PaymentRequestStatus::Pending, PaymentRequestStatus::Issued];

fn live_statuses() -> [&'static str; 2] {
    LIVE.map(PaymentRequestStatus::as_str)
}

/// A pending request for the invoice's amount due, for the node to issue
/// as a BOLT11 and push once issued when `push`; for the caller to insert
/// (with other rows, in bulk).
pub fn pending(
    invoice: &invoices::Model,
    push: bool,
    now: DateTime<Utc>,
) -> payment_requests::ActiveModel {
    payment_requests::ActiveModel {
        id: Set(PaymentRequestId::new().to_string()),
        merchant_id: Set(invoice.merchant_id.clone()),
        invoice_id: Set(invoice.id.clone()),
        amount_msat: Set(invoice.amount_due_msat()),
        status: Set(PaymentRequestStatus::Pending.as_str().to_owned()),
        push: Set(push),
        bolt11: Set(None),
        payment_hash: Set(None),
        expires_at: Set(None),
        issued_at: Set(None),
        paid_at: Set(None),
        amount_received_msat: Set(None),
        failure_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Whether it waits for the node to issue its BOLT11.
pub fn is_pending(r: &payment_requests::Model) -> bool {
    r.status == PaymentRequestStatus::Pending.as_str()
}

/// Whether the customer can pay it at `now`: issued, with a BOLT11 that has
/// not expired.
pub fn is_payable(r: &payment_requests::Model, now: DateTime<Utc>) -> bool {
    r.status == PaymentRequestStatus::Issued.as_str()
        && r.bolt11.is_some()
        && r.expires_at.is_some_and(|at| at > now)
}

/// A BOLT11 the node issued for a pending request.
pub struct Issued<'a> {
    pub request: &'a payment_requests::Model,
    /// Where it is sent once issued ([`delivery::targets`]), if anywhere.
    pub target: Option<Target>,
    pub invoice: IssuedInvoice,
}

/// Rows with a BOLT11 (about 600 bytes each) per upsert statement: under
/// the ~16 KiB of [`store::ROWS_PER_STATEMENT`].
const ISSUED_PER_STATEMENT: usize = 16;

/// Stores the BOLT11s the node issued for pending requests, and queues the
/// push of each request that asks for one when its customer has a node:
/// one upsert per [`ISSUED_PER_STATEMENT`] requests, one insert for the pushes.
pub async fn issue_all(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    issued: Vec<Issued<'_>>,
) -> Result<()> {
    let mut rows = Vec::with_capacity(issued.len());
    let mut pushes = Vec::new();
    for Issued {
        request,
        target,
        invoice,
    } in issued
    {
        if request.push
            && let Some(target) = &target
        {
            pushes.push(target.queued(&request.merchant_id, &request.id, now));
        }
        let mut row = request.clone();
        row.status = PaymentRequestStatus::Issued.as_str().to_owned();
        row.bolt11 = Some(invoice.bolt11);
        row.payment_hash = Some(invoice.payment_hash);
        row.expires_at = Some(invoice.expires_at);
        row.issued_at = Some(now);
        row.updated_at = now;
        rows.push(row.into_active_model().reset_all());
    }
    use payment_requests::Column;
    store::update_columns_in_chunks(
        db,
        rows,
        Column::Id,
        &[
            Column::Status,
            Column::Bolt11,
            Column::PaymentHash,
            Column::ExpiresAt,
            Column::IssuedAt,
            Column::UpdatedAt,
        ],
        ISSUED_PER_STATEMENT,
    )
    .await?;
    store::insert_all(db, pushes).await?;
    Ok(())
}

/// A pending request the node can never issue (e.g. an amount no BOLT11
/// can carry) fails, with `reason` and a `payment_request.failed` event.
pub async fn fail(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    req: &payment_requests::Model,
    reason: &str,
    events: &mut EventBatch,
) -> Result<()> {
    let mut failed = req.clone();
    failed.status = PaymentRequestStatus::Failed.as_str().to_owned();
    failed.failure_reason = Some(text::excerpt(reason.as_bytes(), 500));
    failed.updated_at = now;
    store::save(db, failed.clone()).await?;
    events.push(
        &failed.merchant_id,
        EventType::PaymentRequestFailed,
        "payment_request",
        &failed.id,
        objects::PaymentRequest::from(&failed),
        now,
    );
    Ok(())
}

/// Records that `amount` was received for the request; returns it paid.
pub async fn mark_paid(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    req: &payment_requests::Model,
    amount: Msat,
) -> Result<payment_requests::Model> {
    let mut paid = req.clone();
    paid.status = PaymentRequestStatus::Paid.as_str().to_owned();
    paid.paid_at = Some(now);
    paid.amount_received_msat = Some(amount.to_i64());
    paid.updated_at = now;
    store::save(db, paid.clone()).await?;
    Ok(paid)
}

/// Cancels the invoice's live requests (it was paid, voided or given up on).
pub async fn cancel_live(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoice_id: &str,
) -> Result<()> {
    payment_requests::Entity::update_many()
        .col_expr(
            payment_requests::Column::Status,
            Expr::value(PaymentRequestStatus::Canceled.as_str()),
        )
        .col_expr(payment_requests::Column::UpdatedAt, Expr::value(now))
        .filter(payment_requests::Column::InvoiceId.eq(invoice_id))
        .filter(payment_requests::Column::Status.is_in(live_statuses()))
        .exec(db)
        .await?;
    Ok(())
}

/// Asks for payment again (a dunning retry): re-pushes the live request
/// while it can be paid; replaces an expired one (or none, e.g. after one
/// failed) with a fresh request, pushed once issued when the customer has a
/// node. A request still
/// waiting for the node is left alone: it is pushed once issued.
pub async fn retry(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoice: &invoices::Model,
    events: &mut EventBatch,
) -> Result<()> {
    let live = payment_requests::Entity::find()
        .filter(payment_requests::Column::InvoiceId.eq(&invoice.id))
        .filter(payment_requests::Column::Status.is_in(live_statuses()))
        .one(db)
        .await?;
    let node_id = customer_node(db, &invoice.customer_id).await?;
    let target = delivery::target(db, invoice, node_id).await?;
    match live {
        Some(req) if is_pending(&req) => {}
        Some(req) if req.expires_at.is_some_and(|t| t > now) => {
            if let Some(target) = target {
                queue_push(db, now, &req, &target).await?;
            }
        }
        stale => {
            if let Some(req) = stale {
                expire(db, now, req, events).await?;
            }
            create(db, now, invoice, target.is_some()).await?;
        }
    }
    Ok(())
}

/// The customer asks for a new BOLT11 (the pay page): unless one is payable
/// or pending, expires the issued ones and queues a fresh request, not
/// pushed (the customer is on the page).
pub async fn renew(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoice: &invoices::Model,
    events: &mut EventBatch,
) -> Result<()> {
    let requests = payment_requests::Entity::find()
        .filter(payment_requests::Column::InvoiceId.eq(&invoice.id))
        .all(db)
        .await?;
    if requests.iter().any(|r| is_payable(r, now) || is_pending(r)) {
        return Ok(());
    }
    for stale in requests
        .into_iter()
        .filter(|r| r.status == PaymentRequestStatus::Issued.as_str())
    {
        expire(db, now, stale, events).await?;
    }
    create(db, now, invoice, false).await
}

/// Queues a fresh pending request for the invoice.
async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoice: &invoices::Model,
    push: bool,
) -> Result<()> {
    store::insert_all(db, vec![pending(invoice, push, now)]).await?;
    Ok(())
}

/// Marks a request expired, with its `payment_request.expired` event.
async fn expire(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    req: payment_requests::Model,
    events: &mut EventBatch,
) -> Result<()> {
    let mut expired = req;
    expired.status = PaymentRequestStatus::Expired.as_str().to_owned();
    expired.updated_at = now;
    store::save(db, expired.clone()).await?;
    events.push(
        &expired.merchant_id,
        EventType::PaymentRequestExpired,
        "payment_request",
        &expired.id,
        objects::PaymentRequest::from(&expired),
        now,
    );
    Ok(())
}

/// Queues a send of an issued request to its target, for the node role.
async fn queue_push(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    req: &payment_requests::Model,
    target: &Target,
) -> Result<()> {
    let push = target.queued(&req.merchant_id, &req.id, now);
    store::insert_all(db, vec![push]).await?;
    Ok(())
}

/// The customer's node id, if it gave one.
async fn customer_node(db: &impl ConnectionTrait, customer_id: &str) -> Result<Option<String>> {
    Ok(customers::Entity::find_by_id(customer_id)
        .select_only()
        .column(customers::Column::NodeId)
        .into_tuple::<Option<String>>()
        .one(db)
        .await?
        .flatten())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn request(
        status: PaymentRequestStatus,
        expires_at: Option<DateTime<Utc>>,
    ) -> payment_requests::Model {
        let now = Utc::now();
        payment_requests::Model {
            id: "pr_1".into(),
            merchant_id: "mer_1".into(),
            invoice_id: "inv_1".into(),
            amount_msat: 1_000,
            status: status.as_str().into(),
            push: false,
            bolt11: expires_at.map(|_| "lnbcrt1".into()),
            payment_hash: None,
            expires_at,
            issued_at: None,
            paid_at: None,
            amount_received_msat: None,
            failure_reason: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn only_an_issued_unexpired_request_is_payable() {
        type S = PaymentRequestStatus;
        let now: DateTime<Utc> = "2027-12-01T00:00:00Z".parse().unwrap();
        let later = Some(now + Duration::hours(1));
        assert!(is_payable(&request(S::Issued, later), now));
        assert!(!is_payable(&request(S::Issued, Some(now)), now));
        assert!(!is_payable(&request(S::Issued, None), now));
        for status in [S::Pending, S::Paid, S::Expired, S::Canceled] {
            assert!(!is_payable(&request(status, later), now), "{status}");
        }
    }

    #[test]
    fn live_means_pending_or_issued() {
        type S = PaymentRequestStatus;
        assert_eq!(live_statuses(), ["pending", "issued"]);
        assert!(LIVE.iter().all(|s| !s.is_terminal()));
        assert!(is_pending(&request(S::Pending, None)));
        assert!(!is_pending(&request(S::Issued, None)));
    }
}
