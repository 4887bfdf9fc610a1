//! The period roll: for each live subscription whose period has ended, start
//! the next period and invoice it, end it, or leave the trial.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::delivery;
use super::invoicing::{self, InvoiceDraft};
use super::scope::Scope;
use crate::catalog::policy::PlanRules;
use crate::domain::{EventType, ScheduleError, SubscriptionEvent, SubscriptionStatus};
use crate::error::{Error, Result};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, customers, invoices, plans, queue, subscriptions};

/// A position in the roll queue: `(next_roll_at, id)`.
pub type QueueKey = (DateTime<Utc>, String);

/// What one roll pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollPass {
    pub rolled: usize,
    /// The key of the last row claimed, `None` when the queue had nothing left.
    pub last: Option<QueueKey>,
}

/// Moves `sub` into the period starting at `start` under `plan` and returns the
/// invoice for it. The anchor is kept when the schedule is unchanged, so a
/// monthly plan anchored on the 31st keeps ending on month ends.
///
/// `None` when the schedule has no period starting at `start` (a cron
/// expression that fires no more): `sub` is left as it was, and the caller
/// ends it with [`end_with_schedule`] (or refuses to start it).
pub fn open_period(
    sub: &mut subscriptions::Model,
    plan: &plans::Model,
    rules: &PlanRules,
    anchor: DateTime<Utc>,
    start: DateTime<Utc>,
    push: bool,
    now: DateTime<Utc>,
) -> Result<Option<InvoiceDraft>> {
    let period = match rules.schedule.period_starting_at(anchor, start) {
        Ok(period) => period,
        Err(ScheduleError::CronNeverFires(_)) => return Ok(None),
        Err(e) => return Err(Error::corrupt(format!("subscription {}: {e}", sub.id))),
    };
    sub.plan_id = plan.id.clone();
    sub.billing_anchor = anchor;
    sub.current_period_start = period.start;
    sub.current_period_end = period.end;
    sub.updated_at = now;
    Ok(Some(InvoiceDraft {
        merchant_id: sub.merchant_id.clone(),
        customer_id: sub.customer_id.clone(),
        subscription_id: Some(sub.id.clone()),
        plan_id: Some(plan.id.clone()),
        description: Some(plan.name.clone()),
        period: Some(period),
        amount: rules.amount,
        // A period invoiced late (after downtime, or a test clock jump) still
        // gives the customer the whole payment window.
        due_at: std::cmp::max(period.start, now) + rules.payment_due,
        push,
    }))
}

/// Why a subscription whose plan's schedule has no more periods ended.
pub const SCHEDULE_ENDED: &str = "schedule_ended";

/// Ends `sub` at `at`, the end of its last period: its plan's schedule has no
/// period after it. Recorded as `subscription.canceled` with the reason
/// [`SCHEDULE_ENDED`].
pub fn end_with_schedule(sub: &mut subscriptions::Model, at: DateTime<Utc>, now: DateTime<Utc>) {
    sub.status = SubscriptionStatus::Canceled.as_str().to_owned();
    sub.canceled_at = Some(now);
    sub.ended_at = Some(at);
    sub.cancellation_reason = Some(SCHEDULE_ENDED.to_owned());
    sub.updated_at = now;
}

/// Ends `sub` at the end of its period, as `cancel_at_period_end` asked.
pub fn end_at_period_end(sub: &mut subscriptions::Model, now: DateTime<Utc>) {
    sub.status = SubscriptionStatus::Canceled.as_str().to_owned();
    sub.ended_at = Some(sub.current_period_end);
    sub.updated_at = now;
}

/// Records that the engine could not bill `sub`: the error goes on the row
/// (which takes it out of the roll queue until a merchant's change clears it)
/// and into `subscription.billing_failed`, so one bad row never stops the rest.
pub fn record_billing_error(
    sub: &mut subscriptions::Model,
    error: &Error,
    now: DateTime<Utc>,
    events: &mut EventBatch,
) {
    tracing::error!(subscription = %sub.id, error = %error, "cannot bill this subscription");
    sub.billing_error = Some(error.to_string());
    sub.updated_at = now;
    events.push(
        &sub.merchant_id,
        EventType::SubscriptionBillingFailed,
        "subscription",
        &sub.id,
        objects::Subscription::from(&*sub),
        now,
    );
}

/// Rolls up to `batch` due subscriptions (of `scope`'s merchants) in one
/// transaction; returns how many.
/// A subscription whose invoice still has dunning due before its period end
/// waits for that dunning first (see [`blocked_by_dunning`]), so each
/// subscription's history is applied in time order even when a long downtime
/// is caught up.
///
/// `after` continues a scan of the queue past the last key the previous pass
/// claimed: the index entries of rows already rolled in this run are dead
/// versions that PostgreSQL would otherwise visit again on every pass.
pub async fn roll_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    batch: u64,
    after: Option<&QueueKey>,
    scope: &Scope,
) -> Result<RollPass> {
    let txn = store::begin_write(db).await?;
    let query = subscriptions::Entity::find()
        .filter(subscriptions::Column::NextRollAt.lte(now))
        .order_by_asc(subscriptions::Column::NextRollAt)
        .order_by_asc(subscriptions::Column::Id)
        .limit(batch);
    let mut query = scope.filter(query, subscriptions::Column::MerchantId);
    if let Some((at, id)) = after {
        query = query.filter(
            Expr::tuple([
                Expr::col(subscriptions::Column::NextRollAt),
                Expr::col(subscriptions::Column::Id),
            ])
            .gt(Expr::tuple([Expr::value(*at), Expr::value(id.clone())])),
        );
    }
    let claimed = queue::claim(query, &txn).await?;
    let last = claimed
        .last()
        .and_then(|s| s.next_roll_at.map(|at| (at, s.id.clone())));
    let blocked = blocked_by_dunning(&txn, &claimed).await?;
    let due: Vec<_> = claimed
        .into_iter()
        .filter(|s| !blocked.contains(&s.id))
        .collect();
    if due.is_empty() {
        txn.commit().await?;
        return Ok(RollPass { rolled: 0, last });
    }
    let plans = load_plans(&txn, &due).await?;
    let pushable = pushable_customers(&txn, &due).await?;
    let mut events = EventBatch::new();
    let mut drafts = Vec::new();
    let mut updated = Vec::with_capacity(due.len());
    for sub in &due {
        match roll_one(sub, &plans, &pushable, now) {
            Ok((next, draft, event)) => {
                events.push(
                    &sub.merchant_id,
                    event,
                    "subscription",
                    &sub.id,
                    objects::Subscription::from(&next),
                    now,
                );
                drafts.extend(draft);
                updated.push(next);
            }
            Err(e) => {
                let mut failed = sub.clone();
                record_billing_error(&mut failed, &e, now, &mut events);
                updated.push(failed);
            }
        }
    }
    super::grants::end_for_subscriptions(&txn, now, &updated, &mut events).await?;
    subscriptions::save_all(&txn, updated).await?;
    // Everything that does not need an invoice number is written before the
    // merchant's number row is locked (see `invoicing::create_invoices`), so
    // concurrent batches of one merchant overlap for that part.
    events.flush(&txn).await?;
    invoicing::create_invoices(&txn, now, drafts, &mut events).await?;
    let count = due.len();
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(RollPass {
        rolled: count,
        last,
    })
}

/// The roll of one subscription whose period ended: the row as it is next,
/// the invoice of its next period (none when it ends) and the event.
fn roll_one(
    sub: &subscriptions::Model,
    plans: &LoadedPlans,
    pushable: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(subscriptions::Model, Option<InvoiceDraft>, EventType)> {
    let mut next = sub.clone();
    next.updated_at = now;
    let period_end = sub.current_period_end;
    if sub.cancel_at_period_end {
        end_at_period_end(&mut next, now);
        return Ok((next, None, EventType::SubscriptionCanceled));
    }
    let status = SubscriptionStatus::parse(&sub.status)
        .map_err(|e| Error::corrupt(format!("subscription {}: {e}", sub.id)))?;
    if status == SubscriptionStatus::Trialing {
        next.status = status
            .apply(SubscriptionEvent::TrialEnded)
            .map_err(|e| Error::corrupt(e.to_string()))?
            .as_str()
            .to_owned();
    }
    let (plan, rules) = plan_of(
        plans,
        sub,
        sub.next_plan_id.as_ref().unwrap_or(&sub.plan_id),
    )?;
    // A current plan that cannot be read counts as another schedule, so a
    // plan change is the way out of it.
    let same_schedule = matches!(plans.get(&sub.plan_id), Some((_, Ok(current))) if current.schedule == rules.schedule);
    let anchor = if same_schedule {
        sub.billing_anchor
    } else {
        period_end
    };
    let push = delivery::sends(
        &sub.payment_method,
        pushable.get(&sub.customer_id).map(String::as_str),
    );
    match open_period(&mut next, plan, rules, anchor, period_end, push, now)? {
        Some(draft) => {
            next.next_plan_id = None;
            Ok((next, Some(draft), EventType::SubscriptionUpdated))
        }
        None => {
            end_with_schedule(&mut next, period_end, now);
            Ok((next, None, EventType::SubscriptionCanceled))
        }
    }
}

fn plan_of<'a>(
    plans: &'a LoadedPlans,
    sub: &subscriptions::Model,
    plan_id: &str,
) -> Result<(&'a plans::Model, &'a PlanRules)> {
    match plans.get(plan_id) {
        Some((plan, Ok(rules))) => Ok((plan, rules)),
        Some((_, Err(e))) => Err(Error::corrupt(format!("plan {plan_id}: {e}"))),
        None => Err(Error::corrupt(format!(
            "subscription {}: plan missing",
            sub.id
        ))),
    }
}

/// Plans by id with their rules, or why the rules cannot be read.
type LoadedPlans = HashMap<String, (plans::Model, std::result::Result<PlanRules, String>)>;

/// Subscriptions that have an open invoice with a dunning step due before
/// their period ends: that step must run first. Such a step is due (the
/// period ended), so only the due part of the dunning queue is read.
async fn blocked_by_dunning(
    db: &impl ConnectionTrait,
    subs: &[subscriptions::Model],
) -> Result<HashSet<String>> {
    let ends: HashMap<&str, DateTime<Utc>> = subs
        .iter()
        .map(|s| (s.id.as_str(), s.current_period_end))
        .collect();
    let Some(latest_end) = ends.values().max() else {
        return Ok(HashSet::new());
    };
    // Only these subscriptions' invoices (the `period` index leads with
    // subscription_id), not every merchant's dunning queue.
    let ids: Vec<&str> = ends.keys().copied().collect();
    let mut due_dunning: Vec<(Option<String>, Option<DateTime<Utc>>)> = Vec::new();
    for chunk in ids.chunks(store::IDS_PER_QUERY) {
        due_dunning.extend(
            invoices::Entity::find()
                .select_only()
                .column(invoices::Column::SubscriptionId)
                .column(invoices::Column::NextDunningAt)
                .filter(invoices::Column::SubscriptionId.is_in(chunk.iter().copied()))
                .filter(invoices::Column::NextDunningAt.lt(*latest_end))
                .into_tuple::<(Option<String>, Option<DateTime<Utc>>)>()
                .all(db)
                .await?,
        );
    }
    Ok(due_dunning
        .into_iter()
        .filter_map(|(sub, at)| {
            let sub = sub?;
            (at? < *ends.get(sub.as_str())?).then_some(sub)
        })
        .collect())
}

/// The current and pending plans of the subscriptions, with their rules. A
/// plan whose rules cannot be read fails only its own subscriptions.
async fn load_plans(
    db: &impl ConnectionTrait,
    subs: &[subscriptions::Model],
) -> Result<LoadedPlans> {
    let mut ids: Vec<&str> = subs.iter().map(|s| s.plan_id.as_str()).collect();
    ids.extend(subs.iter().filter_map(|s| s.next_plan_id.as_deref()));
    ids.sort_unstable();
    ids.dedup();
    let mut out = HashMap::new();
    for plan in plans::Entity::find()
        .filter(plans::Column::Id.is_in(ids))
        .all(db)
        .await?
    {
        let rules = PlanRules::from_model(&plan).map_err(|e| e.to_string());
        out.insert(plan.id.clone(), (plan, rules));
    }
    Ok(out)
}

/// Customers of the subscriptions who have a node to push invoices to.
async fn pushable_customers(
    db: &impl ConnectionTrait,
    subs: &[subscriptions::Model],
) -> Result<HashMap<String, String>> {
    let mut ids: Vec<&str> = subs.iter().map(|s| s.customer_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows: Vec<(String, Option<String>)> = Vec::new();
    for chunk in ids.chunks(store::IDS_PER_QUERY) {
        rows.extend(
            customers::Entity::find()
                .select_only()
                .column(customers::Column::Id)
                .column(customers::Column::NodeId)
                .filter(customers::Column::Id.is_in(chunk.iter().copied()))
                .into_tuple::<(String, Option<String>)>()
                .all(db)
                .await?,
        );
    }
    Ok(rows
        .into_iter()
        .filter_map(|(id, node)| node.map(|n| (id, n)))
        .collect())
}
