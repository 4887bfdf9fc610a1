//! What merchants (and customers) do to a subscription: start it, cancel it,
//! pause and resume it, change its plan. Each is one transaction that writes
//! the change and its events.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, TransactionTrait,
};
use serde_json::Value;

use super::periods::{end_at_period_end, end_with_schedule, open_period, record_billing_error};
use super::{grants, invoicing, payment_requests};
use crate::catalog;
use crate::catalog::policy::PlanRules;
use crate::domain::ids::SubscriptionId;
use crate::domain::{
    EventType, InvoiceEvent, InvoiceStatus, PaymentMethod, Schedule, SubscriptionEvent,
    SubscriptionStatus,
};
use crate::error::{Error, Result};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, invoices, plans, queue, subscriptions};

#[derive(Debug, Clone, Default)]
pub struct NewSubscription {
    pub customer_id: String,
    pub plan_id: String,
    /// Overrides the plan's trial length.
    pub trial: Option<Duration>,
    /// Sets the phase of the periods (e.g. the 1st of the month). The first
    /// period runs from now to the anchor's next boundary, at the full price:
    /// there is no proration.
    pub billing_anchor: Option<DateTime<Utc>>,
    pub metadata: Option<Value>,
}

/// How long before a trial ends `subscription.trial_will_end` is recorded.
pub const TRIAL_NOTICE: Duration = Duration::days(3);

/// Starts a subscription: a trial with no invoice, or a first period invoiced at once.
pub async fn create(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    new: NewSubscription,
) -> Result<(subscriptions::Model, Option<invoices::Model>)> {
    let txn = store::begin_write(db).await?;
    let created = create_in(&txn, now, merchant_id, new).await?;
    txn.commit().await?;
    Ok(created)
}

/// [`create`] inside the caller's transaction.
pub async fn create_in(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    new: NewSubscription,
) -> Result<(subscriptions::Model, Option<invoices::Model>)> {
    let customer = catalog::customers::get(txn, merchant_id, &new.customer_id)
        .await
        .map_err(|e| param_not_found(e, "customer"))?;
    let plan = catalog::plans::get(txn, merchant_id, &new.plan_id)
        .await
        .map_err(|e| param_not_found(e, "plan"))?;
    if plan.status != catalog::plans::ACTIVE {
        return Err(Error::invalid("plan", "the plan is archived"));
    }
    let rules = PlanRules::from_model(&plan)?;
    let trial = new.trial.unwrap_or(rules.trial);
    if trial < Duration::zero() || trial > Duration::days(730) {
        return Err(Error::invalid("trial_period_days", "must be 0 to 730 days"));
    }
    if let Some(anchor) = new.billing_anchor {
        check_anchor(&rules.schedule, anchor, now + trial)?;
    }
    let mut sub = subscriptions::Model {
        id: SubscriptionId::new().to_string(),
        merchant_id: merchant_id.to_owned(),
        customer_id: customer.id.clone(),
        plan_id: plan.id.clone(),
        next_plan_id: None,
        status: SubscriptionStatus::Active.as_str().to_owned(),
        billing_anchor: now,
        current_period_start: now,
        current_period_end: now,
        next_roll_at: None,
        trial_start: None,
        trial_end: None,
        trial_notice_at: None,
        cancel_at_period_end: false,
        canceled_at: None,
        ended_at: None,
        paused_at: None,
        cancellation_reason: None,
        billing_error: None,
        payment_method: PaymentMethod::Push.as_str().to_owned(),
        metadata: new.metadata.unwrap_or_else(|| serde_json::json!({})),
        created_at: now,
        updated_at: now,
    };
    let mut events = EventBatch::new();
    let mut draft = None;
    if trial > Duration::zero() {
        let trial_end = now + trial;
        sub.status = SubscriptionStatus::Trialing.as_str().to_owned();
        sub.trial_start = Some(now);
        sub.trial_end = Some(trial_end);
        sub.trial_notice_at = Some(std::cmp::max(now, trial_end - TRIAL_NOTICE));
        sub.current_period_end = trial_end;
        sub.billing_anchor = new.billing_anchor.unwrap_or(trial_end);
    } else {
        let anchor = new.billing_anchor.unwrap_or(now);
        let push = super::delivery::sends(&sub.payment_method, customer.node_id.as_deref());
        draft = Some(
            open_period(&mut sub, &plan, &rules, anchor, now, push, now)?
                .ok_or_else(|| Error::invalid("plan", "the plan's schedule fires no more"))?,
        );
    }
    subscriptions::insert(txn, sub.clone()).await?;
    events.push(
        merchant_id,
        EventType::SubscriptionCreated,
        "subscription",
        &sub.id,
        objects::Subscription::from(&sub),
        now,
    );
    let invoice = match draft {
        Some(d) => invoicing::create_invoices(txn, now, vec![d], &mut events)
            .await?
            .pop(),
        None => None,
    };
    events.insert(txn).await?;
    Ok((sub, invoice))
}

/// A billing anchor must give a first period no longer than one full period.
fn check_anchor(schedule: &Schedule, anchor: DateTime<Utc>, start: DateTime<Utc>) -> Result<()> {
    if matches!(schedule, Schedule::Cron(_)) {
        return Err(Error::invalid(
            "billing_anchor",
            "cron plans bill on their schedule; leave it out",
        ));
    }
    let one_period = schedule
        .period_starting_at(start, start)
        .map_err(|e| Error::invalid("billing_anchor", e.to_string()))?;
    if anchor > one_period.end {
        return Err(Error::invalid(
            "billing_anchor",
            "must be at most one period after the start",
        ));
    }
    Ok(())
}

fn param_not_found(e: Error, param: &str) -> Error {
    match e {
        Error::NotFound { resource, id } => {
            Error::invalid(param, format!("no such {resource}: {id}"))
        }
        other => other,
    }
}

pub async fn get(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    id: &str,
) -> Result<subscriptions::Model> {
    subscriptions::Entity::find_by_id(id)
        .filter(subscriptions::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("subscription", id))
}

/// Cancels now, or at the end of the current period. Open invoices stay open
/// (the merchant may void them) and keep being chased. The subscription's
/// grants end (see [`grants::end_for_subscriptions`]).
pub async fn cancel(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    at_period_end: bool,
) -> Result<subscriptions::Model> {
    let txn = store::begin_write(db).await?;
    let sub = cancel_in(&txn, now, merchant_id, id, at_period_end).await?;
    txn.commit().await?;
    Ok(sub)
}

/// [`cancel`] inside the caller's transaction.
pub async fn cancel_in(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    at_period_end: bool,
) -> Result<subscriptions::Model> {
    change_in(txn, now, merchant_id, id, |sub, status| {
        status.apply(SubscriptionEvent::Cancel).map_err(illegal)?;
        sub.canceled_at = Some(now);
        if at_period_end {
            sub.cancel_at_period_end = true;
            Ok(EventType::SubscriptionUpdated)
        } else {
            sub.status = SubscriptionStatus::Canceled.as_str().to_owned();
            sub.ended_at = Some(now);
            sub.cancellation_reason = Some("requested".to_owned());
            Ok(EventType::SubscriptionCanceled)
        }
    })
    .await
}

/// Pauses: no period rolls and no invoices until resumed.
pub async fn pause(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
) -> Result<subscriptions::Model> {
    change(db, now, merchant_id, id, |sub, status| {
        let to = status.apply(SubscriptionEvent::Pause).map_err(illegal)?;
        sub.status = to.as_str().to_owned();
        sub.paused_at = Some(now);
        Ok(EventType::SubscriptionPaused)
    })
    .await
}

/// Resumes a paused subscription: active (trialing if its trial has not
/// ended yet), or past_due while an invoice of it
/// is overdue (unpaid once that invoice's grace ended while it was paused),
/// so dunning carries on where it was. A period that has not ended yet
/// carries on; otherwise a new period starts now (a new anchor) and is
/// invoiced at once, unless `cancel_at_period_end` (or a schedule that fires
/// no more) ends the subscription at that period's end instead.
pub async fn resume(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
) -> Result<subscriptions::Model> {
    let txn = store::begin_write(db).await?;
    let mut sub = lock(&txn, merchant_id, id).await?;
    let resumed = parse_status(&sub)?
        .apply(SubscriptionEvent::Resume)
        .map_err(illegal)?;
    let status = match overdue_status(&txn, &sub.id, now).await? {
        Some(overdue) => overdue,
        None if in_trial(&sub, now) => {
            // Back in its trial: the trial-ending notice it had not had yet
            // (the pause dropped it) is due again.
            let notice = sub.trial_end.map(|end| end - TRIAL_NOTICE);
            let sent_before_pause = sub.paused_at.zip(notice).is_some_and(|(p, n)| n <= p);
            if !sent_before_pause {
                sub.trial_notice_at = notice.map(|n| std::cmp::max(now, n));
            }
            SubscriptionStatus::Trialing
        }
        None => resumed,
    };
    sub.status = status.as_str().to_owned();
    sub.paused_at = None;
    sub.billing_error = None;
    sub.updated_at = now;
    let mut events = EventBatch::new();
    let mut drafts = Vec::new();
    let mut event = EventType::SubscriptionResumed;
    if status.bills() && sub.current_period_end <= now {
        match restart_period(&txn, &mut sub, now, Anchor::Now).await? {
            Some(draft) => drafts.push(draft),
            None => event = EventType::SubscriptionCanceled,
        }
    }
    subscriptions::save(&txn, sub.clone()).await?;
    events.push(
        merchant_id,
        event,
        "subscription",
        &sub.id,
        objects::Subscription::from(&sub),
        now,
    );
    grants::end_for_subscriptions(&txn, now, std::slice::from_ref(&sub), &mut events).await?;
    invoicing::create_invoices(&txn, now, drafts, &mut events).await?;
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(sub)
}

/// Whether `sub`'s current period is its trial and the trial has not ended.
fn in_trial(sub: &subscriptions::Model, now: DateTime<Utc>) -> bool {
    sub.trial_end
        .is_some_and(|end| end > now && end == sub.current_period_end)
}

/// The status of a subscription with an open overdue invoice: past_due, or
/// unpaid once such an invoice's dunning has run out. `None` without one.
async fn overdue_status(
    db: &impl ConnectionTrait,
    sub_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<SubscriptionStatus>> {
    let overdue = invoices::Entity::find()
        .filter(invoices::Column::SubscriptionId.eq(sub_id))
        .filter(invoices::Column::Status.eq(InvoiceStatus::Open.as_str()))
        .filter(invoices::Column::DueAt.lte(now))
        .all(db)
        .await?;
    Ok(match overdue.iter().map(|i| i.next_dunning_at).min() {
        None => None,
        // At least one has no dunning step left: its grace is over.
        Some(None) => Some(SubscriptionStatus::Unpaid),
        Some(Some(_)) => Some(SubscriptionStatus::PastDue),
    })
}

/// Where the period that brings a dormant subscription back is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// `now` becomes the anchor: a full period starts now (resume).
    Now,
    /// The billing anchor stays (unless the plan change moves to another
    /// schedule): the period runs from now to the cycle's next boundary
    /// (an unpaid subscription paid up).
    KeepCycle,
}

/// Brings back a subscription whose period ended while it did not bill
/// (paused or unpaid). With `cancel_at_period_end` it ends at that period's
/// end; otherwise a period starts at `now` under the pending (or current)
/// plan, anchored as `anchor` says, and its invoice is returned. The periods
/// in between are never billed. `None` when the subscription ended instead
/// (`cancel_at_period_end`, or a schedule that fires no more).
pub async fn restart_period(
    db: &impl ConnectionTrait,
    sub: &mut subscriptions::Model,
    now: DateTime<Utc>,
    anchor: Anchor,
) -> Result<Option<invoicing::InvoiceDraft>> {
    if sub.cancel_at_period_end {
        end_at_period_end(sub, now);
        return Ok(None);
    }
    let (plan, rules) =
        plan_rules(db, sub, sub.next_plan_id.as_deref().unwrap_or(&sub.plan_id)).await?;
    let anchor = match anchor {
        Anchor::KeepCycle if plan.id == sub.plan_id => sub.billing_anchor,
        Anchor::KeepCycle
            if plan_rules(db, sub, &sub.plan_id).await?.1.schedule == rules.schedule =>
        {
            sub.billing_anchor
        }
        _ => now,
    };
    let node = crate::store::customers::Entity::find_by_id(&sub.customer_id)
        .one(db)
        .await?
        .and_then(|c| c.node_id);
    let push = super::delivery::sends(&sub.payment_method, node.as_deref());
    match open_period(sub, &plan, &rules, anchor, now, push, now)? {
        Some(draft) => {
            sub.next_plan_id = None;
            Ok(Some(draft))
        }
        None => {
            let last_end = sub.current_period_end;
            end_with_schedule(sub, last_end, now);
            Ok(None)
        }
    }
}

async fn plan_rules(
    db: &impl ConnectionTrait,
    sub: &subscriptions::Model,
    plan_id: &str,
) -> Result<(plans::Model, PlanRules)> {
    let plan = plans::Entity::find_by_id(plan_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt(format!("subscription {}: plan missing", sub.id)))?;
    let rules = PlanRules::from_model(&plan)?;
    Ok((plan, rules))
}

/// Switches to another plan when the current period ends (no proration).
/// Choosing the current plan clears a pending change.
pub async fn change_plan(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    plan_id: &str,
) -> Result<subscriptions::Model> {
    let txn = store::begin_write(db).await?;
    let plan = catalog::plans::get(&txn, merchant_id, plan_id)
        .await
        .map_err(|e| param_not_found(e, "plan"))?;
    if plan.status != catalog::plans::ACTIVE {
        return Err(Error::invalid("plan", "the plan is archived"));
    }
    let mut sub = lock(&txn, merchant_id, id).await?;
    if parse_status(&sub)?.is_terminal() {
        return Err(Error::conflict(
            "subscription_canceled",
            "a canceled subscription cannot change plan",
        ));
    }
    sub.next_plan_id = (plan.id != sub.plan_id).then_some(plan.id);
    sub.updated_at = now;
    // The merchant's change is a new chance to bill it.
    sub.billing_error = None;
    write_with_event(&txn, now, &sub, EventType::SubscriptionUpdated).await?;
    txn.commit().await?;
    Ok(sub)
}

/// Locks the subscription, lets `apply` change it and name the event, writes both.
async fn change<F>(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    apply: F,
) -> Result<subscriptions::Model>
where
    F: FnOnce(&mut subscriptions::Model, SubscriptionStatus) -> Result<EventType>,
{
    let txn = store::begin_write(db).await?;
    let sub = change_in(&txn, now, merchant_id, id, apply).await?;
    txn.commit().await?;
    Ok(sub)
}

/// [`change`] inside the caller's transaction.
async fn change_in<F>(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    apply: F,
) -> Result<subscriptions::Model>
where
    F: FnOnce(&mut subscriptions::Model, SubscriptionStatus) -> Result<EventType>,
{
    let mut sub = lock(txn, merchant_id, id).await?;
    let status = parse_status(&sub)?;
    let event = apply(&mut sub, status)?;
    sub.updated_at = now;
    // The merchant's change is a new chance to bill it.
    sub.billing_error = None;
    write_with_event(txn, now, &sub, event).await?;
    Ok(sub)
}

async fn write_with_event(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    sub: &subscriptions::Model,
    event: EventType,
) -> Result<()> {
    subscriptions::save(db, sub.clone()).await?;
    let mut events = EventBatch::new();
    events.push(
        &sub.merchant_id,
        event,
        "subscription",
        &sub.id,
        objects::Subscription::from(sub),
        now,
    );
    grants::end_for_subscriptions(db, now, std::slice::from_ref(sub), &mut events).await?;
    events.insert(db).await?;
    Ok(())
}

pub(super) async fn lock(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    id: &str,
) -> Result<subscriptions::Model> {
    let query = subscriptions::Entity::find_by_id(id)
        .filter(subscriptions::Column::MerchantId.eq(merchant_id));
    queue::lock_one(query, db)
        .await?
        .ok_or_else(|| Error::not_found("subscription", id))
}

pub(super) fn parse_status(sub: &subscriptions::Model) -> Result<SubscriptionStatus> {
    SubscriptionStatus::parse(&sub.status)
        .map_err(|e| Error::corrupt(format!("subscription {}: {e}", sub.id)))
}

fn illegal(e: crate::domain::IllegalTransition) -> Error {
    Error::conflict("illegal_transition", e.to_string())
}

/// Voids an open (or uncollectible) invoice: it can no longer be paid, its
/// payment requests are canceled and dunning stops.
pub async fn void(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    invoice_id: &str,
) -> Result<invoices::Model> {
    let txn = store::begin_write(db).await?;
    let query = invoices::Entity::find_by_id(invoice_id)
        .filter(invoices::Column::MerchantId.eq(merchant_id));
    let mut invoice = queue::lock_one(query, &txn)
        .await?
        .ok_or_else(|| Error::not_found("invoice", invoice_id))?;
    let status =
        InvoiceStatus::parse(&invoice.status).map_err(|e| Error::corrupt(e.to_string()))?;
    let voided = status
        .apply(InvoiceEvent::Void)
        .map_err(|e| Error::conflict("invoice_not_voidable", e.to_string()))?;
    invoice.status = voided.as_str().to_owned();
    invoice.voided_at = Some(now);
    invoice.next_dunning_at = None;
    invoice.updated_at = now;
    store::save(&txn, invoice.clone()).await?;
    payment_requests::cancel_live(&txn, now, &invoice.id).await?;
    let mut events = EventBatch::new();
    events.push(
        merchant_id,
        EventType::InvoiceVoided,
        "invoice",
        &invoice.id,
        objects::Invoice::from(&invoice),
        now,
    );
    events.insert(&txn).await?;
    // Its subscription may have been past_due or unpaid for this invoice alone.
    if let Some(sub_id) = &invoice.subscription_id {
        recover_or_record(&txn, now, sub_id).await?;
    }
    txn.commit().await?;
    Ok(invoice)
}

/// Asks the customer for payment again now, as a dunning retry does:
/// re-pushes the invoice's live payment request to the customer's node, or
/// replaces an expired one with a fresh request (pushed once issued). Only
/// an open or uncollectible invoice can be asked for again.
pub async fn push_again(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    invoice_id: &str,
) -> Result<invoices::Model> {
    let txn = store::begin_write(db).await?;
    let query = invoices::Entity::find_by_id(invoice_id)
        .filter(invoices::Column::MerchantId.eq(merchant_id));
    let invoice = queue::lock_one(query, &txn)
        .await?
        .ok_or_else(|| Error::not_found("invoice", invoice_id))?;
    let status =
        InvoiceStatus::parse(&invoice.status).map_err(|e| Error::corrupt(e.to_string()))?;
    if !matches!(status, InvoiceStatus::Open | InvoiceStatus::Uncollectible) {
        return Err(Error::conflict(
            "invoice_not_payable",
            format!("a {} invoice takes no payment", status.as_str()),
        ));
    }
    let mut events = EventBatch::new();
    payment_requests::retry(&txn, now, &invoice, &mut events).await?;
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(invoice)
}

/// [`recover_subscription`] in a savepoint: an error other than the
/// database's is recorded against the subscription (`billing_error`,
/// `subscription.billing_failed`) and never undoes the payment.
pub async fn recover_or_record(
    txn: &DatabaseTransaction,
    now: DateTime<Utc>,
    sub_id: &str,
) -> Result<()> {
    let savepoint = txn.begin().await?;
    let mut events = EventBatch::new();
    match recover_subscription(&savepoint, now, sub_id, &mut events).await {
        Ok(()) => {
            events.insert(&savepoint).await?;
            savepoint.commit().await?;
        }
        Err(Error::Database(e)) => return Err(e.into()),
        Err(e) => {
            savepoint.rollback().await?;
            let Some(mut sub) =
                queue::lock_one(subscriptions::Entity::find_by_id(sub_id), txn).await?
            else {
                return Ok(());
            };
            let mut events = EventBatch::new();
            record_billing_error(&mut sub, &e, now, &mut events);
            subscriptions::save(txn, sub).await?;
            events.insert(txn).await?;
        }
    }
    Ok(())
}

/// A past-due or unpaid subscription whose overdue invoices are all paid (or voided)
/// becomes active. An unpaid one had stopped billing: its period carries on
/// if it has not ended; otherwise it comes back to its cycle with a period
/// from now to the cycle's next boundary (the periods it skipped are not
/// billed), or ends if `cancel_at_period_end` asked for it.
async fn recover_subscription(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    sub_id: &str,
    events: &mut EventBatch,
) -> Result<()> {
    let Some(mut sub) = queue::lock_one(subscriptions::Entity::find_by_id(sub_id), db).await?
    else {
        return Ok(());
    };
    let status =
        SubscriptionStatus::parse(&sub.status).map_err(|e| Error::corrupt(e.to_string()))?;
    if !matches!(
        status,
        SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid
    ) {
        return Ok(());
    }
    let still_overdue = invoices::Entity::find()
        .filter(invoices::Column::SubscriptionId.eq(sub_id))
        .filter(invoices::Column::Status.eq(InvoiceStatus::Open.as_str()))
        .filter(invoices::Column::DueAt.lte(now))
        .one(db)
        .await?
        .is_some();
    if still_overdue {
        return Ok(());
    }
    let to = status
        .apply(SubscriptionEvent::AllOverdueInvoicesPaid)
        .map_err(|e| Error::corrupt(e.to_string()))?;
    sub.status = to.as_str().to_owned();
    sub.updated_at = now;
    let mut drafts = Vec::new();
    let mut event = EventType::SubscriptionUpdated;
    if sub.current_period_end <= now {
        if status == SubscriptionStatus::Unpaid {
            match restart_period(db, &mut sub, now, Anchor::KeepCycle).await? {
                Some(draft) => drafts.push(draft),
                None => event = EventType::SubscriptionCanceled,
            }
        } else if sub.cancel_at_period_end {
            // Past due, paid after its period ended but before the roll that
            // would end it: it ends now, at that period's end.
            end_at_period_end(&mut sub, now);
            event = EventType::SubscriptionCanceled;
        }
        // A past-due one otherwise rolls at the next run, as it would have.
    }
    subscriptions::save(db, sub.clone()).await?;
    events.push(
        &sub.merchant_id,
        event,
        "subscription",
        &sub.id,
        objects::Subscription::from(&sub),
        now,
    );
    grants::end_for_subscriptions(db, now, std::slice::from_ref(&sub), events).await?;
    invoicing::create_invoices(db, now, drafts, events).await?;
    Ok(())
}
