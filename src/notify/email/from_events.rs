//! The emails events send: the webhook fan-out hands each batch of events
//! to [`enqueue`] inside its transaction, which decides who gets which email
//! (the merchant's preferences), renders it and queues it in the outbox, or
//! holds an `invoice.unpaid` for the merchant's daily summary. Emails are
//! rendered when queued, so what is sent is what the object looked like when
//! the event happened.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::messages::{self, CUSTOMER_KINDS, Kind, Preferences, UnpaidSummary};
use super::render::{self, Msg, sat_amount, when};
use super::{digest, outbox};
use crate::store::{
    customers, events, invoices, merchants, pay_links, payment_requests, plans, subscriptions,
    webhook_endpoints,
};

/// What queueing needs besides the events: where the pay page lives.
#[derive(Debug, Clone)]
pub struct Queueing {
    pub base_url: String,
}

impl Queueing {
    /// `Some` when SMTP is configured, or in the sandbox, where mail without
    /// SMTP is queued and never sent: the dashboard's Emails page shows it
    /// (the mail catcher). On a real network without SMTP no mail is queued.
    pub fn from_settings(settings: &crate::config::Settings) -> Option<Queueing> {
        let catcher = settings.app.network == crate::config::Network::Sandbox;
        (settings.smtp.is_some() || catcher).then(|| Queueing {
            base_url: settings.app.base_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// Queues the emails `events` send; call inside the fan-out's transaction.
/// Queueing twice for one event is harmless (unique on event, kind, address).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &Queueing,
    events: &[events::Model],
) -> Result<usize, DbErr> {
    let mut merchants_seen: HashMap<String, (merchants::Model, Preferences, Option<String>)> =
        HashMap::new();
    let mut rows = Vec::new();
    for event in events {
        let kinds = Kind::for_event(&event.event_type);
        if kinds.is_empty() {
            continue;
        }
        if !merchants_seen.contains_key(&event.merchant_id) {
            let Some(merchant) = merchants::Entity::find_by_id(&event.merchant_id)
                .one(db)
                .await?
            else {
                continue;
            };
            let prefs = Preferences::from_settings(&merchant.settings);
            let address = messages::merchant_address(db, &merchant, &prefs).await?;
            merchants_seen.insert(event.merchant_id.clone(), (merchant, prefs, address));
        }
        let (merchant, prefs, merchant_address) = &merchants_seen[&event.merchant_id];
        let Some((msg, customer_address)) = message_for(db, now, ctx, merchant, event).await?
        else {
            continue;
        };
        for &kind in kinds {
            let to = if CUSTOMER_KINDS.contains(&kind) {
                if !prefs.allows(kind) {
                    continue;
                }
                customer_address.clone()
            } else {
                if kind == Kind::MerchantUnpaid {
                    match prefs.unpaid_summary {
                        UnpaidSummary::Immediate => {}
                        UnpaidSummary::Daily => {
                            digest::hold(db, now, event).await?;
                            continue;
                        }
                        UnpaidSummary::Off => continue,
                    }
                }
                merchant_address.clone()
            };
            let Some(to) = to else { continue };
            let rendered = match render::render(kind, &msg) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, kind = kind.as_str(), event = %event.id, "email: cannot render");
                    continue;
                }
            };
            rows.push(outbox::row(
                now,
                &event.merchant_id,
                Some(&event.id),
                kind,
                to,
                rendered,
            ));
        }
    }
    outbox::queue_all(db, rows).await
}

/// The template fields for an event, and the customer's address if the
/// event concerns a customer who has one. `None` when the object is gone.
async fn message_for(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &Queueing,
    merchant: &merchants::Model,
    event: &events::Model,
) -> Result<Option<(Msg, Option<String>)>, DbErr> {
    let mut msg = Msg {
        merchant_name: merchant.name.clone(),
        portal_url: super::portal_link::portal_url(&ctx.base_url, &merchant.id),
        ..Msg::default()
    };
    let customer_id = match event.object_type.as_str() {
        "invoice" => {
            let Some(invoice) = invoices::Entity::find_by_id(&event.object_id)
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            fill_invoice(db, now, ctx, &mut msg, &invoice, &event.event_type).await?;
            Some(invoice.customer_id)
        }
        "subscription" => {
            let Some(sub) = subscriptions::Entity::find_by_id(&event.object_id)
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            msg.subscription_id = sub.id.clone();
            msg.trial_end = sub.trial_end.map(when).unwrap_or_default();
            Some(sub.customer_id)
        }
        "webhook_endpoint" => {
            let Some(endpoint) = webhook_endpoints::Entity::find_by_id(&event.object_id)
                .one(db)
                .await?
            else {
                return Ok(None);
            };
            msg.endpoint_url = endpoint.url;
            msg.disabled_reason = endpoint.disabled_reason.unwrap_or_default();
            None
        }
        _ => return Ok(None),
    };
    let mut customer_address = None;
    if let Some(id) = customer_id
        && let Some(customer) = customers::Entity::find_by_id(&id).one(db).await?
    {
        msg.customer_name = customer
            .name
            .clone()
            .or_else(|| customer.email.clone())
            .unwrap_or_else(|| customer.id.clone());
        if customer.deleted_at.is_none() {
            customer_address = customer.email;
        }
    }
    Ok(Some((msg, customer_address)))
}

async fn fill_invoice(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &Queueing,
    msg: &mut Msg,
    invoice: &invoices::Model,
    event_type: &str,
) -> Result<(), DbErr> {
    msg.invoice_number = invoice.number.clone();
    msg.amount = sat_amount(invoice.amount_msat);
    if invoice.credit_applied_msat > 0 {
        msg.credit = sat_amount(invoice.credit_applied_msat);
        msg.amount_due = sat_amount(invoice.amount_due_msat());
    }
    if let (Some(start), Some(end)) = (invoice.period_start, invoice.period_end) {
        msg.period = crate::domain::Period { start, end }.days();
    }
    msg.due = when(invoice.due_at);
    msg.paid = invoice.paid_at.map(when).unwrap_or_default();
    // The pay page's link carries an unguessable token, not the invoice id
    // (ids are in webhook payloads).
    let token = pay_links::token_for(db, now, invoice).await?;
    msg.pay_url = format!("{}/pay/{token}", ctx.base_url);
    // The latest BOLT11 issued for the invoice (the pay page makes a fresh
    // one if it has expired).
    msg.bolt11 = payment_requests::Entity::find()
        .filter(payment_requests::Column::InvoiceId.eq(&invoice.id))
        .filter(payment_requests::Column::Bolt11.is_not_null())
        .order_by_desc(payment_requests::Column::CreatedAt)
        .order_by_desc(payment_requests::Column::Id)
        .one(db)
        .await?
        .and_then(|r| r.bolt11);
    let grace_action = match &invoice.plan_id {
        Some(plan) => plans::Entity::find_by_id(plan)
            .one(db)
            .await?
            .map(|p| p.grace_action),
        None => None,
    };
    msg.next_step = match event_type {
        "invoice.payment_failed" => match invoice.next_dunning_at {
            Some(at) => format!(
                "We will try again on {}. Paying now, by Lightning or on the web, stops the reminders.",
                when(at)
            ),
            None => "Paying now, by Lightning or on the web, stops the reminders.".to_owned(),
        },
        _ => match grace_action.as_deref() {
            Some("cancel") => "the subscription is canceled. Paying this invoice still settles what is owed.".to_owned(),
            Some(_) => "the subscription is marked unpaid and no new invoices are issued. Paying this invoice restarts it with a new period.".to_owned(),
            None => "the invoice stays open until it is paid.".to_owned(),
        },
    };
    Ok(())
}
