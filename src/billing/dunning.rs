//! Dunning: chasing open invoices past their due time. Each step is one row
//! change plus its events: overdue (subscription past_due), retries (a fresh
//! payment request when the last one expired, otherwise a re-push), and the
//! end of grace (subscription unpaid or canceled).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use super::{payment_requests, periods};
use crate::catalog::policy::{DunningAction, DunningPolicy, PlanRules};
use crate::domain::{
    EventType, GraceAction, InvoiceEvent, InvoiceStatus, SubscriptionEvent, SubscriptionStatus,
};
use crate::error::{Error, Result};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, invoices, plans, queue, subscriptions};

/// Runs the due dunning step of up to `batch` invoices in one transaction;
/// returns how many. An invoice whose subscription has a period roll due
/// before this step waits for the roll (see `periods::roll_due`).
pub async fn run_due(db: &DatabaseConnection, now: DateTime<Utc>, batch: u64) -> Result<usize> {
    let txn = store::begin_write(db).await?;
    let query = invoices::Entity::find()
        .filter(invoices::Column::NextDunningAt.lte(now))
        .order_by_asc(invoices::Column::NextDunningAt)
        .order_by_asc(invoices::Column::Id)
        .limit(batch);
    let claimed = queue::claim(query, &txn).await?;
    let roll_due_at = subscription_rolls(&txn, &claimed).await?;
    let due: Vec<_> = claimed
        .into_iter()
        .filter(|inv| {
            let roll = inv
                .subscription_id
                .as_deref()
                .and_then(|s| roll_due_at.get(s));
            !matches!((roll, inv.next_dunning_at), (Some(r), Some(d)) if *r < d)
        })
        .collect();
    let mut events = EventBatch::new();
    let mut policies: HashMap<String, Result<DunningPolicy, String>> = HashMap::new();
    for invoice in &due {
        let policy = match &invoice.plan_id {
            Some(plan_id) => match policies.get(plan_id) {
                Some(p) => p.clone(),
                None => {
                    let p = plan_policy(&txn, plan_id).await?;
                    policies.insert(plan_id.clone(), p.clone());
                    p
                }
            },
            None => Ok(DunningPolicy::default()),
        };
        let stepped = match policy {
            Ok(policy) => step(&txn, now, invoice.clone(), &policy, &mut events).await,
            Err(e) => Err(Error::corrupt(e)),
        };
        match stepped {
            Ok(()) => {}
            Err(Error::Database(e)) => return Err(e.into()),
            // Every other error comes before the step writes anything.
            Err(e) => record_dunning_error(&txn, now, invoice, &e, &mut events).await?,
        }
    }
    let count = due.len();
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(count)
}

/// The dunning policy of a plan, or why it cannot be read (which fails only
/// that plan's invoices).
async fn plan_policy(
    db: &impl ConnectionTrait,
    plan_id: &str,
) -> Result<Result<DunningPolicy, String>> {
    Ok(match plans::Entity::find_by_id(plan_id).one(db).await? {
        Some(plan) => PlanRules::from_model(&plan)
            .map(|r| r.dunning)
            .map_err(|e| format!("plan {plan_id}: {e}")),
        None => Err(format!("plan {plan_id} missing")),
    })
}

/// An invoice whose dunning step cannot run leaves the dunning queue, and the
/// error goes on its subscription (see `periods::record_billing_error`).
async fn record_dunning_error(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoice: &invoices::Model,
    error: &Error,
    events: &mut EventBatch,
) -> Result<()> {
    tracing::error!(invoice = %invoice.id, error = %error, "cannot run this invoice's dunning step");
    let mut row = invoice.clone().into_active_model();
    row.next_dunning_at = Set(None);
    row.updated_at = Set(now);
    row.update(db).await?;
    let sub = match &invoice.subscription_id {
        Some(id) => queue::lock_one(subscriptions::Entity::find_by_id(id), db).await?,
        None => None,
    };
    if let Some(mut sub) = sub {
        periods::record_billing_error(&mut sub, error, now, events);
        subscriptions::save(db, sub).await?;
    }
    Ok(())
}

async fn step(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoice: invoices::Model,
    policy: &DunningPolicy,
    events: &mut EventBatch,
) -> Result<()> {
    let Some(step) = policy.step(invoice.due_at, invoice.dunning_step) else {
        // Past the last step: nothing left to do.
        let mut row = invoice.into_active_model();
        row.next_dunning_at = Set(None);
        row.update(db).await?;
        return Ok(());
    };
    let mut next = invoice.clone();
    next.dunning_step += 1;
    next.next_dunning_at = step.next_at;
    next.updated_at = now;
    let sub = match &invoice.subscription_id {
        // Locked: a concurrent period roll of this subscription must finish first.
        Some(id) => queue::lock_one(subscriptions::Entity::find_by_id(id), db).await?,
        None => None,
    };
    let mut sub_change: Option<(SubscriptionStatus, EventType)> = None;
    let failed = match step.action {
        DunningAction::Overdue => true,
        DunningAction::Retry { previous_failed } => previous_failed,
        DunningAction::GraceEnded { last_failed } => last_failed,
    };
    match step.action {
        DunningAction::Overdue => {
            sub_change = Some((SubscriptionStatus::PastDue, EventType::SubscriptionPastDue))
                .filter(|_| sub_status(&sub) == Some(SubscriptionStatus::Active));
        }
        DunningAction::Retry { .. } => {
            next.attempt_count += 1;
            payment_requests::retry(db, now, &next, events).await?;
        }
        DunningAction::GraceEnded { .. } => {
            if policy.grace_action == GraceAction::Cancel {
                let status = InvoiceStatus::parse(&next.status)
                    .map_err(|e| Error::corrupt(e.to_string()))?
                    .apply(InvoiceEvent::MarkUncollectible)
                    .map_err(|e| Error::corrupt(e.to_string()))?;
                next.status = status.as_str().to_owned();
                next.marked_uncollectible_at = Some(now);
                payment_requests::cancel_live(db, now, &next.id).await?;
            }
            // A past-due subscription moves; a paused one is canceled when
            // the plan cancels on nonpayment, and otherwise stays paused
            // (it resumes unpaid); a canceled one stays.
            let grace_expired = SubscriptionEvent::GraceExpired(policy.grace_action);
            if let Some(to) = sub_status(&sub).and_then(|s| s.apply(grace_expired).ok()) {
                let event = match to {
                    SubscriptionStatus::Canceled => EventType::SubscriptionCanceled,
                    _ => EventType::SubscriptionUnpaid,
                };
                sub_change = Some((to, event));
            }
        }
    }
    store::save(db, next.clone()).await?;
    let data = objects::Invoice::from(&next);
    if failed {
        events.push(
            &next.merchant_id,
            EventType::InvoicePaymentFailed,
            "invoice",
            &next.id,
            &data,
            now,
        );
    }
    if matches!(step.action, DunningAction::GraceEnded { .. }) {
        events.push(
            &next.merchant_id,
            EventType::InvoiceUnpaid,
            "invoice",
            &next.id,
            data,
            now,
        );
    }
    if let (Some((status, event)), Some(sub)) = (sub_change, sub) {
        let mut sub = sub;
        sub.status = status.as_str().to_owned();
        sub.updated_at = now;
        if status == SubscriptionStatus::Canceled {
            sub.canceled_at = Some(now);
            sub.ended_at = Some(now);
            sub.cancellation_reason = Some("nonpayment".to_owned());
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
        super::grants::end_for_subscriptions(db, now, std::slice::from_ref(&sub), events).await?;
    }
    Ok(())
}

/// When each invoice's subscription next rolls, for those that bill.
async fn subscription_rolls(
    db: &impl ConnectionTrait,
    invoices: &[invoices::Model],
) -> Result<HashMap<String, DateTime<Utc>>> {
    let ids: Vec<&str> = invoices
        .iter()
        .filter_map(|i| i.subscription_id.as_deref())
        .collect();
    let mut rows: Vec<(String, Option<DateTime<Utc>>)> = Vec::new();
    for chunk in ids.chunks(store::IDS_PER_QUERY) {
        rows.extend(
            subscriptions::Entity::find()
                .select_only()
                .column(subscriptions::Column::Id)
                .column(subscriptions::Column::NextRollAt)
                .filter(subscriptions::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple::<(String, Option<DateTime<Utc>>)>()
                .all(db)
                .await?,
        );
    }
    Ok(rows
        .into_iter()
        .filter_map(|(id, at)| at.map(|at| (id, at)))
        .collect())
}

fn sub_status(sub: &Option<subscriptions::Model>) -> Option<SubscriptionStatus> {
    sub.as_ref()
        .and_then(|s| SubscriptionStatus::parse(&s.status).ok())
}
