//! What must hold after every step, read from the database as a whole and
//! compared with what the model remembers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use pushbill::domain::{InvoiceEvent, InvoiceStatus, SubscriptionEvent, SubscriptionStatus};
use pushbill::objects;
use pushbill::store::{customers, events, invoices, merchants, payment_requests, subscriptions};
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};

use super::world::{Outcome, World, check};

/// Every row the invariants read, loaded once per step.
pub struct Snapshot {
    pub subs: Vec<subscriptions::Model>,
    pub invoices: Vec<invoices::Model>,
    pub requests: Vec<payment_requests::Model>,
    pub merchants: Vec<merchants::Model>,
    pub customers: Vec<customers::Model>,
    pub events: Vec<events::Model>,
}

impl Snapshot {
    pub async fn load(db: &DatabaseConnection) -> Snapshot {
        Snapshot {
            subs: subscriptions::Entity::find()
                .order_by_asc(subscriptions::Column::Id)
                .all(db)
                .await
                .unwrap(),
            invoices: invoices::Entity::find()
                .order_by_asc(invoices::Column::Id)
                .all(db)
                .await
                .unwrap(),
            requests: payment_requests::Entity::find()
                .order_by_asc(payment_requests::Column::Id)
                .all(db)
                .await
                .unwrap(),
            merchants: merchants::Entity::find()
                .order_by_asc(merchants::Column::Id)
                .all(db)
                .await
                .unwrap(),
            customers: customers::Entity::find()
                .order_by_asc(customers::Column::Id)
                .all(db)
                .await
                .unwrap(),
            events: events::Entity::find()
                .order_by_asc(events::Column::Id)
                .all(db)
                .await
                .unwrap(),
        }
    }

    fn invoices_of<'a>(&'a self, sub_id: &'a str) -> impl Iterator<Item = &'a invoices::Model> {
        self.invoices
            .iter()
            .filter(move |i| i.subscription_id.as_deref() == Some(sub_id))
    }
}

/// Checks every invariant; the first broken one is the answer.
pub async fn check_all(world: &mut World) -> Outcome {
    let snap = Snapshot::load(&world.db).await;
    let now = world.now();
    for model in &mut world.subs {
        let row = snap.subs.iter().find(|s| s.id == model.id).unwrap();
        model.interrupted |= matches!(row.status.as_str(), "paused" | "unpaid");
    }
    periods_never_overlap(&snap)?;
    active_periods_are_billed(world, &snap, now)?;
    nothing_billed_after_the_end(world, &snap)?;
    overdue_matches_the_status(world, &snap, now)?;
    every_msat_is_accounted_for(world, &snap)?;
    invoice_numbers_are_gapless(&snap)?;
    every_change_has_its_event(&snap)?;
    the_overview_counts_the_rows(world, &snap, now).await?;
    // Folding the counters' deltas changes none of the numbers.
    pushbill::catalog::metrics::fold_all(&world.db)
        .await
        .unwrap();
    the_overview_counts_the_rows(world, &snap, now).await?;
    Ok(())
}

/// The dashboard overview, read from the counters the database keeps by
/// triggers, gives each merchant's numbers of subscriptions per status and
/// money paid per month as counted from the rows themselves.
async fn the_overview_counts_the_rows(
    world: &World,
    snap: &Snapshot,
    now: DateTime<Utc>,
) -> Outcome {
    for merchant in &snap.merchants {
        let o = pushbill::catalog::metrics::overview(&world.db, &merchant.id, now)
            .await
            .unwrap();
        let count = |status: SubscriptionStatus| {
            snap.subs
                .iter()
                .filter(|s| s.merchant_id == merchant.id && s.status == status.as_str())
                .count() as u64
        };
        let counted = [
            count(SubscriptionStatus::Active),
            count(SubscriptionStatus::Trialing),
            count(SubscriptionStatus::PastDue),
            count(SubscriptionStatus::Unpaid),
            count(SubscriptionStatus::Paused),
        ];
        let shown = [o.active, o.trialing, o.past_due, o.unpaid, o.paused];
        check(
            shown == counted,
            &format!(
                "{}: the overview shows active/trialing/past_due/unpaid/paused {shown:?}, the rows say {counted:?}",
                merchant.id
            ),
        )?;
        for month in &o.revenue {
            let key = month.month.format("%Y-%m").to_string();
            let paid: i64 = snap
                .invoices
                .iter()
                .filter(|i| i.merchant_id == merchant.id && i.status == "paid")
                .filter(|i| {
                    i.paid_at
                        .is_some_and(|t| t.format("%Y-%m").to_string() == key)
                })
                .map(|i| i.amount_msat)
                .sum();
            check(
                month.paid_msat == paid,
                &format!(
                    "{}: the overview shows {} msat paid in {key}, the invoices say {paid}",
                    merchant.id, month.paid_msat
                ),
            )?;
        }
    }
    Ok(())
}

/// No two invoices of one subscription cover the same instant.
fn periods_never_overlap(snap: &Snapshot) -> Outcome {
    for sub in &snap.subs {
        let mut periods: Vec<_> = snap
            .invoices_of(&sub.id)
            .map(|i| (i.period_start.unwrap(), i.period_end.unwrap(), &i.number))
            .collect();
        periods.sort();
        for (start, end, number) in &periods {
            check(
                start < end,
                &format!("invoice {number} has an empty period"),
            )?;
        }
        for w in periods.windows(2) {
            check(
                w[0].1 <= w[1].0,
                &format!(
                    "invoices {} [{}, {}) and {} [{}, {}) of {} overlap: a day billed twice",
                    w[0].2, w[0].0, w[0].1, w[1].2, w[1].0, w[1].1, sub.id
                ),
            )?;
        }
    }
    Ok(())
}

/// A subscription that bills has an invoice for its current period; once the
/// engine has caught up its period has not ended; and one that was never
/// paused or unpaid has no gap from its first billed instant to now.
fn active_periods_are_billed(world: &World, snap: &Snapshot, now: DateTime<Utc>) -> Outcome {
    for model in &world.subs {
        let sub = snap.subs.iter().find(|s| s.id == model.id).unwrap();
        let status = SubscriptionStatus::parse(&sub.status).unwrap();
        let mut periods: Vec<_> = snap
            .invoices_of(&sub.id)
            .map(|i| (i.period_start.unwrap(), i.period_end.unwrap()))
            .collect();
        periods.sort();
        if matches!(
            status,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue
        ) {
            let current = (sub.current_period_start, sub.current_period_end);
            check(
                periods.contains(&current),
                &format!(
                    "{} {} has no invoice for its period [{}, {})",
                    sub.status, sub.id, current.0, current.1
                ),
            )?;
        }
        if status.bills() {
            check(
                sub.next_roll_at == Some(sub.current_period_end),
                &format!("{} {} is not queued to roll", sub.status, sub.id),
            )?;
            check(
                !world.caught_up || sub.current_period_end > now,
                &format!("{} {} was left unrolled by a run", sub.status, sub.id),
            )?;
        }
        if !model.interrupted && !periods.is_empty() {
            let first = sub.trial_end.unwrap_or(sub.created_at);
            check(
                periods[0].0 == first,
                &format!("the first period of {} does not start at {first}", sub.id),
            )?;
            for w in periods.windows(2) {
                check(
                    w[0].1 == w[1].0,
                    &format!(
                        "{} was never paused or unpaid but [{}, {}) went unbilled",
                        sub.id, w[0].1, w[1].0
                    ),
                )?;
            }
        }
    }
    Ok(())
}

/// Nothing is invoiced for time after a subscription ended, or after the
/// period end at which it was asked to cancel.
fn nothing_billed_after_the_end(world: &World, snap: &Snapshot) -> Outcome {
    for model in &world.subs {
        let sub = snap.subs.iter().find(|s| s.id == model.id).unwrap();
        for invoice in snap.invoices_of(&sub.id) {
            let start = invoice.period_start.unwrap();
            if let Some(ended) = sub.ended_at {
                // An invoice made before the cancel may start at the very end
                // instant (canceled the moment its period began).
                let made_before = sub.canceled_at.is_some_and(|c| invoice.created_at <= c);
                check(
                    start < ended || made_before,
                    &format!(
                        "invoice {} [{start}, ..) of {} was billed after it ended at {ended}",
                        invoice.number, sub.id
                    ),
                )?;
            }
            if let Some((period_end, asked)) = model.cancel_at {
                check(
                    start < period_end || invoice.created_at < asked,
                    &format!(
                        "invoice {} [{start}, ..) of {} was billed after its cancel at period end {period_end}",
                        invoice.number, sub.id
                    ),
                )?;
            }
        }
        if world.caught_up && sub.cancel_at_period_end && sub.current_period_end <= world.now() {
            let status = SubscriptionStatus::parse(&sub.status).unwrap();
            check(
                !status.bills(),
                &format!(
                    "{} {} outlived its cancel at period end",
                    sub.status, sub.id
                ),
            )?;
        }
    }
    Ok(())
}

/// past_due and unpaid mean an open overdue invoice; once the engine has
/// caught up, an active subscription has none.
fn overdue_matches_the_status(world: &World, snap: &Snapshot, now: DateTime<Utc>) -> Outcome {
    for sub in &snap.subs {
        let overdue = snap
            .invoices_of(&sub.id)
            .any(|i| i.status == "open" && i.due_at <= now);
        if matches!(sub.status.as_str(), "past_due" | "unpaid") {
            check(
                overdue,
                &format!("{} {} has no open overdue invoice", sub.status, sub.id),
            )?;
        }
        if sub.status == "active" && world.caught_up {
            check(
                !overdue,
                &format!("active {} has an open overdue invoice", sub.id),
            )?;
        }
    }
    Ok(())
}

/// Money held for customers that is on no invoice: their credit balances.
fn unapplied_msat(snap: &Snapshot) -> i64 {
    snap.customers.iter().map(|c| c.balance_msat).sum()
}

/// Every msat the node claimed is recorded once, and is on exactly one paid
/// invoice or in a customer's balance.
fn every_msat_is_accounted_for(world: &World, snap: &Snapshot) -> Outcome {
    let recorded: i64 = snap
        .requests
        .iter()
        .filter_map(|r| r.amount_received_msat)
        .sum();
    check(
        recorded == world.received_msat,
        &format!(
            "the node claimed {} msat, the books recorded {recorded}",
            world.received_msat
        ),
    )?;
    let mut received_on: HashMap<&str, i64> = HashMap::new();
    for r in &snap.requests {
        *received_on.entry(r.invoice_id.as_str()).or_default() +=
            r.amount_received_msat.unwrap_or(0);
    }
    // Credit taken from a balance stays on its invoice (also when that
    // invoice is later voided); what was paid is the rest of a paid invoice.
    let mut applied: i64 = snap.invoices.iter().map(|i| i.credit_applied_msat).sum();
    for invoice in snap.invoices.iter().filter(|i| i.status == "paid") {
        let received = received_on.get(invoice.id.as_str()).copied().unwrap_or(0);
        check(
            invoice.amount_due_msat() == 0 || received > 0,
            &format!("invoice {} is paid but received nothing", invoice.number),
        )?;
        applied += invoice.amount_due_msat();
    }
    let unapplied = unapplied_msat(snap);
    check(
        recorded == applied + unapplied,
        &format!(
            "received {recorded} msat = applied {applied} + unapplied {unapplied}? \
             {} msat kept with no record (defect 6?)",
            recorded - applied - unapplied
        ),
    )
}

/// Each merchant's invoice numbers are 1..=n, each once.
fn invoice_numbers_are_gapless(snap: &Snapshot) -> Outcome {
    for merchant in &snap.merchants {
        let mut numbers: Vec<u64> = snap
            .invoices
            .iter()
            .filter(|i| i.merchant_id == merchant.id)
            .map(|i| {
                let n = i
                    .number
                    .strip_prefix(&format!("{}-", merchant.invoice_prefix))
                    .unwrap_or_else(|| panic!("{} has another merchant's prefix", i.number));
                n.parse().unwrap()
            })
            .collect();
        numbers.sort_unstable();
        let expected: Vec<u64> = (1..=numbers.len() as u64).collect();
        check(
            numbers == expected,
            &format!("{}'s invoice numbers: {numbers:?}", merchant.invoice_prefix),
        )?;
    }
    Ok(())
}

/// Each subscription and invoice has events, oldest first, that start with
/// its creation, walk only legal transitions, and end in its current state.
fn every_change_has_its_event(snap: &Snapshot) -> Outcome {
    let mut by_object: HashMap<&str, Vec<&events::Model>> = HashMap::new();
    for e in &snap.events {
        by_object.entry(e.object_id.as_str()).or_default().push(e);
    }
    for sub in &snap.subs {
        let events = by_object.get(sub.id.as_str()).cloned().unwrap_or_default();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        check(
            types.first() == Some(&"subscription.created"),
            &format!("{} has events {types:?}", sub.id),
        )?;
        in_time_order(&events)?;
        let mut previous: Option<SubscriptionStatus> = None;
        for e in &events {
            let status = SubscriptionStatus::parse(e.data["status"].as_str().unwrap()).unwrap();
            check(
                subscription_event_fits(&e.event_type, status),
                &format!("{} of {} says {status}", e.event_type, sub.id),
            )?;
            if let Some(from) = previous {
                check(
                    subscription_step_is_legal(from, status),
                    &format!("{} went from {from} to {status} ({types:?})", sub.id),
                )?;
            }
            previous = Some(status);
        }
        let now = serde_json::to_value(objects::Subscription::from(sub)).unwrap();
        let last = &events.last().unwrap().data;
        for field in [
            "status",
            "plan",
            "pending_plan",
            "billing_anchor",
            "current_period_start",
            "current_period_end",
            "cancel_at_period_end",
            "canceled_at",
            "ended_at",
            "paused_at",
        ] {
            check(
                last[field] == now[field],
                &format!(
                    "{}'s {field} is {} but its last event ({}) says {} ({types:?})",
                    sub.id,
                    now[field],
                    events.last().unwrap().event_type,
                    last[field]
                ),
            )?;
        }
    }
    for invoice in &snap.invoices {
        let events = by_object
            .get(invoice.id.as_str())
            .cloned()
            .unwrap_or_default();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        check(
            types.first() == Some(&"invoice.created"),
            &format!("invoice {} has events {types:?}", invoice.number),
        )?;
        in_time_order(&events)?;
        let mut previous: Option<InvoiceStatus> = None;
        for e in &events {
            let status = InvoiceStatus::parse(e.data["status"].as_str().unwrap()).unwrap();
            let fits = match e.event_type.as_str() {
                "invoice.paid" => status == InvoiceStatus::Paid,
                "invoice.voided" => status == InvoiceStatus::Void,
                _ => true,
            };
            check(
                fits,
                &format!("{} of {} says {status}", e.event_type, invoice.number),
            )?;
            if let Some(from) = previous {
                let legal = from == status
                    || InvoiceEvent::ALL
                        .iter()
                        .any(|&ev| from.apply(ev) == Ok(status));
                check(
                    legal,
                    &format!("invoice {} went from {from} to {status}", invoice.number),
                )?;
            }
            previous = Some(status);
        }
        let last = events.last().unwrap().data["status"].clone();
        check(
            last.as_str() == Some(invoice.status.as_str()),
            &format!(
                "invoice {} is {} but its last event says {last} ({types:?})",
                invoice.number, invoice.status
            ),
        )?;
    }
    Ok(())
}

fn in_time_order(events: &[&events::Model]) -> Outcome {
    for w in events.windows(2) {
        check(
            w[0].created_at <= w[1].created_at,
            &format!(
                "{} at {} is recorded before {} at {}",
                w[0].event_type, w[0].created_at, w[1].event_type, w[1].created_at
            ),
        )?;
    }
    Ok(())
}

fn subscription_event_fits(event_type: &str, status: SubscriptionStatus) -> bool {
    use SubscriptionStatus as S;
    match event_type {
        "subscription.created" => matches!(status, S::Trialing | S::Active),
        "subscription.canceled" => status == S::Canceled,
        "subscription.paused" => status == S::Paused,
        // Back to its cycle or its trial, or to the status an overdue
        // invoice gives it (unpaid when that invoice's grace ran out while paused).
        "subscription.resumed" => matches!(
            status,
            S::Active | S::Trialing | S::PastDue | S::Unpaid | S::Canceled
        ),
        "subscription.past_due" => status == S::PastDue,
        "subscription.unpaid" => status == S::Unpaid,
        _ => true,
    }
}

/// A legal transition of the state machine, or a resume straight back to
/// past_due or unpaid (issue 12, defect 4: resuming keeps an overdue
/// invoice's status) or into the rest of the trial.
fn subscription_step_is_legal(from: SubscriptionStatus, to: SubscriptionStatus) -> bool {
    use SubscriptionStatus as S;
    from == to
        || (from == S::Paused && matches!(to, S::PastDue | S::Unpaid | S::Trialing))
        || SubscriptionEvent::ALL
            .iter()
            .any(|&e| from.apply(e) == Ok(to))
}
