//! The push queue in the database (`push_attempts`): claiming due pushes
//! with a wall-clock lease, and recording how each try ended, with its
//! `invoice.pushed` / `invoice.push_failed` event in the same transaction.
//!
//! `billing::payments::issue_pending` queues a push in the transaction that
//! stores the BOLT11 (customers with a `node_id` only); dunning queues a new
//! one for each fresh payment request.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use lightning_invoice::Bolt11Invoice;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::{
    Backoff, EventType, InvoiceStatus, PaymentRequestStatus, PushAttemptStatus as PushStatus, Rail,
};
use crate::error::{Error, Result};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::queue;
use crate::store::{self, customers, invoices, merchants, payment_requests, push_attempts};
use push_protocol::wire::{PushId, PushReply, ReplyStatus};

/// How attempts of a rail are delivered (the push and the wallet rail each
/// have one).
#[derive(Debug, Clone)]
pub struct PushPolicy {
    /// How long to wait for `push_reply`.
    pub reply_timeout: std::time::Duration,
    /// Tries before a push that cannot be delivered fails.
    pub max_tries: i32,
    /// Wait before the second try; doubled for each further one.
    pub backoff: Duration,
    /// Pushes in flight at once (each on its own task).
    pub max_in_flight: usize,
}

impl PushPolicy {
    /// How long a claimed attempt is leased for one try: the reply timeout
    /// and a margin (connecting, recording).
    fn lease(&self) -> Duration {
        Duration::from_std(self.reply_timeout).unwrap_or(Duration::seconds(60))
            + Duration::seconds(30)
    }
}

/// A push claimed for sending, with what goes into the message.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub push: push_attempts::Model,
    pub push_id: PushId,
    pub request: payment_requests::Model,
    pub invoice: invoices::Model,
    pub merchant_name: String,
    pub plan_name: Option<String>,
    /// `node_id@host:port`, when the customer gave one.
    pub node_address: Option<String>,
}

/// Claims up to `limit` due attempts of `rail` (`now`: the service's
/// clock), each leased for one try under `policy`.
pub async fn claim_for(
    db: &DatabaseConnection,
    rail: Rail,
    now: DateTime<Utc>,
    policy: &PushPolicy,
    limit: usize,
) -> Result<Vec<Claimed>> {
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    claim_due(db, rail, now, Utc::now(), policy.lease(), limit).await
}

/// Claims up to `limit` due attempts of `rail` (`now`: the service's
/// clock) and leases them until `wall + lease` (real time).
pub async fn claim_due(
    db: &DatabaseConnection,
    rail: Rail,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<Claimed>> {
    use push_attempts::Column as P;
    let due = || {
        push_attempts::Entity::find()
            .filter(P::Status.eq(PushStatus::Queued.as_str()))
            .filter(P::Method.eq(rail.as_str()))
            .filter(
                Condition::any()
                    .add(P::NextAttemptAt.is_null())
                    .add(P::NextAttemptAt.lte(now)),
            )
            .filter(queue::not_leased(P::LockedUntil, wall))
    };
    if !queue::any_due(due(), db).await? {
        return Ok(Vec::new());
    }
    let txn = store::begin_write(db).await?;
    let rows = queue::claim_leased(
        due()
            .order_by_asc(P::NextAttemptAt)
            .order_by_asc(P::Id)
            .limit(limit),
        queue::Lease {
            column: P::LockedUntil,
            until: wall + lease,
        },
        &txn,
    )
    .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for mut push in rows {
        let push_id = match push.push_id.as_deref().and_then(PushId::from_hex) {
            Some(id) => id,
            None => {
                let id = PushId::random();
                push.push_id = Some(id.to_hex());
                store::save(&txn, push.clone()).await?;
                id
            }
        };
        let request = payment_requests::Entity::find_by_id(&push.payment_request_id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::corrupt(format!("push {}: payment request missing", push.id)))?;
        let invoice = invoices::Entity::find_by_id(&request.invoice_id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::corrupt(format!("push {}: invoice missing", push.id)))?;
        let merchant_name = merchants::Entity::find_by_id(&push.merchant_id)
            .one(&txn)
            .await?
            .map(|m| m.name)
            .unwrap_or_default();
        let node_address = customers::Entity::find_by_id(&invoice.customer_id)
            .one(&txn)
            .await?
            .and_then(|c| c.node_address);
        let plan_name = match &invoice.plan_id {
            Some(plan_id) => crate::store::plans::Entity::find_by_id(plan_id)
                .one(&txn)
                .await?
                .map(|p| p.name),
            None => None,
        }
        .or_else(|| invoice.description.clone());
        claimed.push(Claimed {
            push,
            push_id,
            request,
            invoice,
            merchant_name,
            plan_name,
            node_address,
        });
    }
    txn.commit().await?;
    Ok(claimed)
}

impl Claimed {
    /// The BOLT11 to send, while the attempt is still worth sending: the
    /// invoice open, its request issued and not expired (checked against
    /// real time, as payers check it); otherwise how the attempt ends.
    pub fn payable(&self) -> Result<Bolt11Invoice, Outcome> {
        if self.invoice.status != InvoiceStatus::Open.as_str() {
            return Err(Outcome::Dropped {
                reason: format!("invoice_{}", self.invoice.status),
            });
        }
        if self.request.status != PaymentRequestStatus::Issued.as_str() {
            return Err(Outcome::Dropped {
                reason: format!("payment_request_{}", self.request.status),
            });
        }
        let Some(bolt11) = self
            .request
            .bolt11
            .as_deref()
            .and_then(|b| Bolt11Invoice::from_str(b).ok())
        else {
            return Err(Outcome::Dropped {
                reason: "no_invoice".into(),
            });
        };
        if ln_node::push::is_expired(&bolt11) {
            return Err(Outcome::Dropped {
                reason: "expired".into(),
            });
        }
        Ok(bolt11)
    }
}

/// How one try of a push ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The subscriber's node answered accepted, pending_approval or paid
    /// (a wallet: paid, with the payment hash's preimage).
    Pushed { status: &'static str },
    /// It answered rejected (with the reason's name; a wallet's NIP-47
    /// error code, e.g. quota_exceeded): final for this payment request.
    Rejected { reason: String },
    /// Not delivered (no_address, unreachable, unsupported, timeout; for a
    /// wallet also relay_unavailable, rate_limited): tried
    /// again after `retry_after` until the tries run out.
    NotDelivered { reason: &'static str },
    /// The payment request expired or the invoice is no longer open: not sent.
    Dropped { reason: String },
}

/// Records how a try ended and, on a final state, the event about it.
/// `max_tries` and `backoff` (doubled after each try, see
/// [`Backoff::doubling`]) decide retries.
pub async fn finish(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    claimed: &Claimed,
    outcome: Outcome,
    max_tries: i32,
    backoff: Duration,
) -> Result<()> {
    let txn = store::begin_write(db).await?;
    let Some(mut push) =
        queue::lock_one(push_attempts::Entity::find_by_id(&claimed.push.id), &txn).await?
    else {
        return Err(Error::corrupt(format!("push {} vanished", claimed.push.id)));
    };
    if push.status != PushStatus::Queued.as_str() {
        // Another process finished it after our lease ran out.
        txn.commit().await?;
        return Ok(());
    }
    push.locked_until = None;
    push.updated_at = now;
    let event = match outcome {
        Outcome::Dropped { reason } => {
            push.status = PushStatus::Dropped.as_str().to_owned();
            push.reason = Some(reason);
            None
        }
        Outcome::Pushed { status } => {
            push.tries += 1;
            push.attempted_at = Some(now);
            push.replied_at = Some(now);
            push.status = status.to_owned();
            push.reason = None;
            Some(EventType::InvoicePushed)
        }
        Outcome::Rejected { reason } => {
            push.tries += 1;
            push.attempted_at = Some(now);
            push.replied_at = Some(now);
            push.status = PushStatus::Rejected.as_str().to_owned();
            push.reason = Some(format!("rejected:{reason}"));
            Some(EventType::InvoicePushFailed)
        }
        Outcome::NotDelivered { reason } => {
            push.tries += 1;
            push.attempted_at = Some(now);
            push.reason = Some(reason.to_owned());
            let retry = Backoff::doubling(backoff)
                .give_up_after(u32::try_from(max_tries).unwrap_or(0))
                .wait(u32::try_from(push.tries).unwrap_or(0));
            match retry {
                Some(wait) => {
                    push.next_attempt_at = Some(now + wait);
                    None
                }
                None => {
                    push.status = PushStatus::Failed.as_str().to_owned();
                    Some(EventType::InvoicePushFailed)
                }
            }
        }
    };
    store::save(&txn, push.clone()).await?;
    if let Some(event_type) = event {
        let invoice = invoices::Entity::find_by_id(&claimed.invoice.id)
            .one(&txn)
            .await?
            .unwrap_or_else(|| claimed.invoice.clone());
        let mut events = EventBatch::new();
        events.push(
            &invoice.merchant_id,
            event_type,
            "invoice",
            &invoice.id,
            objects::InvoicePush {
                invoice: objects::Invoice::from(&invoice),
                push: objects::PushAttempt::from(&push),
            },
            now,
        );
        events.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// An answer that came after `accepted` or `pending_approval`: `paid` marks
/// the push paid (the invoice itself becomes paid when the money arrives);
/// `rejected` (the subscriber declined, or the payment failed) marks it
/// rejected and records `invoice.push_failed`, in one transaction.
/// Returns whether a push changed.
pub async fn record_late_reply(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    from_node: &str,
    reply: &PushReply,
) -> Result<bool> {
    use push_attempts::Column as P;
    let (status, reason) = match reply.status {
        ReplyStatus::Paid => (PushStatus::Paid.as_str(), None),
        ReplyStatus::Rejected(reason) => (
            PushStatus::Rejected.as_str(),
            Some(format!("rejected:{}", reason.name())),
        ),
        ReplyStatus::Accepted | ReplyStatus::PendingApproval => return Ok(false),
    };
    let txn = store::begin_write(db).await?;
    let push = queue::lock_one(
        push_attempts::Entity::find()
            .filter(P::PushId.eq(reply.push_id.to_hex()))
            .filter(P::NodeId.eq(from_node))
            .filter(P::Status.is_in(PushStatus::AWAITING_PAYMENT.map(PushStatus::as_str))),
        &txn,
    )
    .await?;
    let Some(mut push) = push else {
        txn.commit().await?;
        return Ok(false);
    };
    push.status = status.to_owned();
    push.replied_at = Some(now);
    push.updated_at = now;
    if reason.is_some() {
        push.reason = reason;
    }
    store::save(&txn, push.clone()).await?;
    if push.status == PushStatus::Rejected.as_str() {
        let request = payment_requests::Entity::find_by_id(&push.payment_request_id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::corrupt(format!("push {}: payment request missing", push.id)))?;
        let invoice = invoices::Entity::find_by_id(&request.invoice_id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::corrupt(format!("push {}: invoice missing", push.id)))?;
        let mut events = EventBatch::new();
        events.push(
            &invoice.merchant_id,
            EventType::InvoicePushFailed,
            "invoice",
            &invoice.id,
            objects::InvoicePush {
                invoice: objects::Invoice::from(&invoice),
                push: objects::PushAttempt::from(&push),
            },
            now,
        );
        events.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(true)
}
