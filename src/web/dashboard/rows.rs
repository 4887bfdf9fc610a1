//! The rows and timelines several dashboard pages show (a customer's page
//! lists subscriptions and invoices; subscription and invoice pages share
//! the timeline), so the pages import this and not each other.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::PageError;
use super::view::{display, sat_amount, when, when_opt};
use crate::catalog;
use crate::context::Context;
use crate::store::{
    customers, events, invoices as invoice_rows, plans as plan_rows, subscriptions,
};

/// "every month", "every 3 weeks", "cron 0 0 9 * * Mon".
pub fn schedule_text(p: &plan_rows::Model) -> String {
    match (p.interval_unit.as_str(), p.cron_expression.as_deref()) {
        ("cron", Some(expr)) => format!("cron {expr}"),
        (unit, _) if p.interval_count == 1 => format!("every {unit}"),
        (unit, _) => format!("every {} {unit}s", p.interval_count),
    }
}

/// A customer's label in lists: name, else email, else id.
pub fn label(c: &customers::Model) -> String {
    c.name
        .as_deref()
        .or(c.email.as_deref())
        .map(display)
        .unwrap_or_else(|| c.id.clone())
}

pub struct SubscriptionRow {
    pub id: String,
    pub customer: String,
    pub plan: String,
    pub status: String,
    pub period_end: String,
    pub cancel_at_period_end: bool,
}

/// The list rows of `subs`, with their customers' and plans' names (two
/// queries for the page, not two per row).
pub async fn rows(
    state: &Context,
    merchant_id: &str,
    subs: Vec<subscriptions::Model>,
) -> Result<Vec<SubscriptionRow>, PageError> {
    let customer_ids: Vec<String> = subs.iter().map(|s| s.customer_id.clone()).collect();
    let plan_ids: Vec<String> = subs.iter().map(|s| s.plan_id.clone()).collect();
    let customers: HashMap<String, customers::Model> = customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::Id.is_in(customer_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let plans: HashMap<String, plan_rows::Model> = plan_rows::Entity::find()
        .filter(plan_rows::Column::MerchantId.eq(merchant_id))
        .filter(plan_rows::Column::Id.is_in(plan_ids))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    Ok(subs
        .into_iter()
        .map(|s| SubscriptionRow {
            customer: customers
                .get(&s.customer_id)
                .map(label)
                .unwrap_or_else(|| s.customer_id.clone()),
            plan: plans
                .get(&s.plan_id)
                .map(|p| display(&p.name))
                .unwrap_or_else(|| s.plan_id.clone()),
            id: s.id,
            status: s.status,
            period_end: when(s.current_period_end),
            cancel_at_period_end: s.cancel_at_period_end,
        })
        .collect())
}

pub struct InvoiceRow {
    pub id: String,
    pub number: String,
    pub amount: String,
    pub status: String,
    pub due: String,
    pub paid: String,
}

impl From<&invoice_rows::Model> for InvoiceRow {
    fn from(i: &invoice_rows::Model) -> Self {
        Self {
            id: i.id.clone(),
            number: i.number.clone(),
            amount: sat_amount(i.amount_msat),
            status: i.status.clone(),
            due: when(i.due_at),
            paid: when_opt(i.paid_at),
        }
    }
}

/// One line of a subscription's timeline.
pub struct Entry {
    pub at: String,
    pub kind: &'static str,
    /// `kind` as a CSS class.
    pub kind_class: String,
    pub text: String,
    pub link: Option<String>,
    sort: (DateTime<Utc>, String),
}

fn entry(
    at: DateTime<Utc>,
    id: &str,
    kind: &'static str,
    text: String,
    link: Option<String>,
) -> Entry {
    Entry {
        at: when(at),
        kind,
        kind_class: kind.replace(' ', "-"),
        text,
        link,
        sort: (at, id.to_owned()),
    }
}

/// The timeline of the invoices' payment requests and push attempts (and
/// the replies), plus `events`, in time order.
pub async fn timeline(
    state: &Context,
    merchant_id: &str,
    invoices: &[crate::store::invoices::Model],
    events: Vec<events::Model>,
) -> Result<Vec<Entry>, PageError> {
    let mut entries: Vec<Entry> = events
        .into_iter()
        .map(|e| entry(e.created_at, &e.id, "event", e.event_type.clone(), None))
        .collect();
    for invoice in invoices {
        let link = Some(format!("/dashboard/invoices/{}", invoice.id));
        entries.push(entry(
            invoice.created_at,
            &invoice.id,
            "invoice",
            format!(
                "Invoice {} for {} ({})",
                invoice.number,
                sat_amount(invoice.amount_msat),
                invoice.status
            ),
            link.clone(),
        ));
        for (request, attempts) in
            catalog::invoices::payment_requests(&state.db, merchant_id, &invoice.id).await?
        {
            entries.push(entry(
                request.created_at,
                &request.id,
                "payment request",
                format!(
                    "Payment request of {} for {}: {}",
                    sat_amount(request.amount_msat),
                    invoice.number,
                    request.status
                ),
                link.clone(),
            ));
            for a in attempts {
                let at = a.attempted_at.unwrap_or(a.created_at);
                let node = &a.node_id[..a.node_id.len().min(16)];
                entries.push(entry(
                    at,
                    &a.id,
                    "push",
                    format!("Pushed {} to node {node}…: {}", invoice.number, a.status),
                    link.clone(),
                ));
                if let Some(replied) = a.replied_at {
                    let reason = a.reason.as_deref().map(display).unwrap_or_default();
                    entries.push(entry(
                        replied,
                        &format!("{}r", a.id),
                        "reply",
                        format!(
                            "The node replied {}{}",
                            a.status,
                            if reason.is_empty() {
                                String::new()
                            } else {
                                format!(": {reason}")
                            }
                        ),
                        link.clone(),
                    ));
                }
            }
        }
    }
    entries.sort_by(|a, b| a.sort.cmp(&b.sort));
    Ok(entries)
}
