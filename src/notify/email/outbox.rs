//! The email outbox (`outgoing_emails`): rows are written by the webhook
//! fan-out, inside its transaction, for the events that send mail
//! ([`enqueue`]); the sender claims due rows ([`claim_due`]) and records each
//! attempt ([`record`]). Rows are rendered when queued, so what is sent is
//! what the object looked like when the event happened.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::messages::{CUSTOMER_KINDS, Kind, Preferences, UnpaidSummary};
use super::render::{self, Msg, sat_amount, when};
use super::send::SendError;
use crate::domain::ids::EmailId;
use crate::domain::{Backoff, InvoiceStatus, OutgoingEmailStatus};
use crate::store::queue;
use crate::store::{
    self, customers, events, invoices, merchant_users, merchants, outgoing_emails, pay_links,
    payment_requests, plans, subscriptions, webhook_endpoints,
};

/// Waits after failed attempts 1, 2, ...; the last one repeats for ever, so
/// an SMTP outage delays mail but loses none.
pub const RETRY: Backoff = Backoff::listed(&[
    Duration::minutes(1),
    Duration::minutes(5),
    Duration::minutes(15),
    Duration::hours(1),
    Duration::hours(3),
    Duration::hours(6),
]);

/// What queueing needs besides the events: where the pay page lives.
#[derive(Debug, Clone)]
pub struct Context {
    pub base_url: String,
}

impl Context {
    /// `Some` when SMTP is configured: without it no mail is queued.
    pub fn from_settings(settings: &crate::config::Settings) -> Option<Context> {
        settings.smtp.as_ref().map(|_| Context {
            base_url: settings.app.base_url.trim_end_matches('/').to_owned(),
        })
    }
}

/// Queues the emails `events` send; call inside the fan-out's transaction.
/// Queueing twice for one event is harmless (unique on event, kind, address).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &Context,
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
            let address = merchant_address(db, &merchant, &prefs).await?;
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
                            super::digest::hold(db, now, event).await?;
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
            rows.push(row(
                now,
                &event.merchant_id,
                Some(&event.id),
                kind,
                to,
                rendered,
            ));
        }
    }
    let queued = rows.len();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        // Rendered bodies are a few kilobytes: small statements.
        let chunk: Vec<_> = rows.by_ref().take(8).collect();
        outgoing_emails::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::columns([
                    outgoing_emails::Column::EventId,
                    outgoing_emails::Column::Kind,
                    outgoing_emails::Column::ToAddress,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(queued)
}

/// Where the merchant's own emails go: the address they set, else their
/// oldest dashboard user's; `None` when there is neither.
pub async fn merchant_address(
    db: &impl ConnectionTrait,
    merchant: &merchants::Model,
    prefs: &Preferences,
) -> Result<Option<String>, DbErr> {
    if let Some(a) = &prefs.merchant_address {
        return Ok(Some(a.clone()));
    }
    Ok(merchant_users::Entity::find()
        .filter(merchant_users::Column::MerchantId.eq(&merchant.id))
        .order_by_asc(merchant_users::Column::CreatedAt)
        .order_by_asc(merchant_users::Column::Id)
        .one(db)
        .await?
        .map(|u| u.email))
}

/// A pending outbox row, due now.
fn row(
    now: DateTime<Utc>,
    merchant_id: &str,
    event_id: Option<&str>,
    kind: Kind,
    to: String,
    rendered: render::Rendered,
) -> outgoing_emails::ActiveModel {
    outgoing_emails::ActiveModel {
        id: Set(EmailId::new().to_string()),
        merchant_id: Set(merchant_id.to_owned()),
        event_id: Set(event_id.map(str::to_owned)),
        kind: Set(kind.as_str().to_owned()),
        to_address: Set(to),
        subject: Set(rendered.subject),
        body_text: Set(rendered.text),
        body_html: Set(rendered.html),
        status: Set(OutgoingEmailStatus::Pending.as_str().to_owned()),
        attempt_count: Set(0),
        next_attempt_at: Set(Some(now)),
        last_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Queues one email that no event sends (e.g. a summary); returns its id.
pub async fn queue_one(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    kind: Kind,
    to: String,
    rendered: render::Rendered,
) -> Result<String, DbErr> {
    let model = row(now, merchant_id, None, kind, to, rendered);
    let id = model.id.clone().unwrap();
    outgoing_emails::Entity::insert(model)
        .exec_without_returning(db)
        .await?;
    Ok(id)
}

/// The template fields for an event, and the customer's address if the
/// event concerns a customer who has one. `None` when the object is gone.
async fn message_for(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ctx: &Context,
    merchant: &merchants::Model,
    event: &events::Model,
) -> Result<Option<(Msg, Option<String>)>, DbErr> {
    let mut msg = Msg {
        merchant_name: merchant.name.clone(),
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
    ctx: &Context,
    msg: &mut Msg,
    invoice: &invoices::Model,
    event_type: &str,
) -> Result<(), DbErr> {
    msg.invoice_number = invoice.number.clone();
    msg.amount = sat_amount(invoice.amount_msat);
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

/// Claims up to `limit` due rows, leasing them for `lease` (on the app
/// clock): the claim pushes `next_attempt_at` back, so a sender that dies
/// mid-send leaves rows that come due again. `SKIP LOCKED` on PostgreSQL,
/// so several workers share the queue.
pub async fn claim_due(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<outgoing_emails::Model>, DbErr> {
    use outgoing_emails::Column as C;
    let due = || {
        outgoing_emails::Entity::find()
            .filter(C::Status.eq(OutgoingEmailStatus::Pending.as_str()))
            .filter(C::NextAttemptAt.lte(now))
    };
    if !queue::any_due(due(), db).await? {
        return Ok(Vec::new());
    }
    let txn = store::begin_write(db).await?;
    let claimed = queue::claim_leased(
        due()
            .order_by_asc(C::NextAttemptAt)
            .order_by_asc(C::Id)
            .limit(limit),
        queue::Lease {
            column: C::NextAttemptAt,
            until: now + lease,
        },
        &txn,
    )
    .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// Records one attempt: sent; failed for good (permanent refusal); or
/// pending again after the [`RETRY`] wait.
pub async fn record(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    row: &outgoing_emails::Model,
    result: &Result<(), SendError>,
) -> Result<(), DbErr> {
    let attempts = row.attempt_count + 1;
    let mut update = outgoing_emails::ActiveModel {
        id: Set(row.id.clone()),
        attempt_count: Set(attempts),
        updated_at: Set(now),
        ..Default::default()
    };
    match result {
        Ok(()) => {
            update.status = Set(OutgoingEmailStatus::Sent.as_str().to_owned());
            update.sent_at = Set(Some(now));
            update.next_attempt_at = Set(None);
            update.last_error = Set(None);
        }
        Err(e) => {
            // The SMTP server's words: made storable.
            let error = crate::domain::text::excerpt(e.message.as_bytes(), 500);
            update.last_error = Set(Some(error));
            let retry = match e.permanent {
                true => None,
                false => RETRY.wait(u32::try_from(attempts).unwrap_or(0)),
            };
            match retry {
                Some(wait) => update.next_attempt_at = Set(Some(now + wait)),
                None => {
                    update.status = Set(OutgoingEmailStatus::Failed.as_str().to_owned());
                    update.next_attempt_at = Set(None);
                }
            }
        }
    }
    outgoing_emails::Entity::update(update).exec(db).await?;
    Ok(())
}

/// Why `row` should no longer go out: it asks for payment (payment request,
/// payment failed, invoice unpaid) of an invoice that is no longer open.
/// Checked at send time, since the invoice may be paid after the mail was
/// queued.
pub async fn obsolete(
    db: &impl ConnectionTrait,
    row: &outgoing_emails::Model,
) -> Result<Option<String>, DbErr> {
    if !Kind::parse(&row.kind).is_some_and(Kind::asks_for_payment) {
        return Ok(None);
    }
    let Some(event_id) = &row.event_id else {
        return Ok(None);
    };
    let Some(event) = events::Entity::find_by_id(event_id).one(db).await? else {
        return Ok(None);
    };
    if event.object_type != "invoice" {
        return Ok(None);
    }
    let invoice = invoices::Entity::find_by_id(&event.object_id)
        .one(db)
        .await?;
    Ok(match invoice {
        Some(i) if i.status == InvoiceStatus::Open.as_str() => None,
        Some(i) => Some(format!("invoice_{}", i.status)),
        None => Some("invoice_missing".to_owned()),
    })
}

/// Marks `row` withdrawn (never sent), with why.
pub async fn withdraw(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    row: &outgoing_emails::Model,
    reason: &str,
) -> Result<(), DbErr> {
    outgoing_emails::Entity::update(outgoing_emails::ActiveModel {
        id: Set(row.id.clone()),
        status: Set(OutgoingEmailStatus::Withdrawn.as_str().to_owned()),
        next_attempt_at: Set(None),
        last_error: Set(Some(reason.to_owned())),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_grow_then_stay_at_six_hours_for_ever() {
        assert_eq!(RETRY.wait(1), Some(Duration::seconds(60)));
        assert_eq!(RETRY.wait(2), Some(Duration::seconds(300)));
        assert_eq!(RETRY.wait(6), Some(Duration::hours(6)));
        assert_eq!(RETRY.wait(60), Some(Duration::hours(6)));
    }
}
