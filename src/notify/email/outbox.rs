//! The email outbox (`outgoing_emails`): rendered emails are queued
//! ([`queue_all`] for the events' emails, see `super::from_events`;
//! [`queue_one`] for the daily summary), the sender claims due rows
//! ([`claim_due`]), withdraws the payment emails of invoices no longer open
//! ([`obsolete`], [`withdraw`]) and records each attempt ([`record`]).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::messages::Kind;
use super::render;
use super::send::SendError;
use crate::domain::ids::EmailId;
use crate::domain::{Backoff, InvoiceStatus, OutgoingEmailStatus};
use crate::store::{self, events, invoices, outgoing_emails, queue};

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

/// What a sent customer portal sign-in email's bodies become: the link is
/// a bearer token, not kept in clear once it is no longer needed.
pub const REDACTED: &str = "[a sign-in or invitation link: not kept once sent]";

/// A pending outbox row, due now, for [`queue_all`].
pub fn row(
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

/// Queues rendered emails (from [`row`]); returns how many were given. An
/// email already queued for the same event, kind and address is left as it
/// is, so queueing twice for one event is harmless.
pub async fn queue_all(
    db: &impl ConnectionTrait,
    rows: Vec<outgoing_emails::ActiveModel>,
) -> Result<usize, DbErr> {
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
    if matches!(
        Kind::parse(&row.kind),
        Some(Kind::PortalLink | Kind::Invitation)
    ) && matches!(update.next_attempt_at, sea_orm::ActiveValue::Set(None))
    {
        // Sent or failed for good: the sign-in or invitation link it carries
        // is a bearer token, not kept in clear once it is no longer needed.
        update.body_text = Set(REDACTED.to_owned());
        update.body_html = Set(REDACTED.to_owned());
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

/// The merchant's emails, newest first (the dashboard's Emails page: the
/// mail catcher of a sandbox without SMTP).
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    page: &store::page::PageParams,
) -> Result<store::page::Page<outgoing_emails::Model>, DbErr> {
    let select =
        outgoing_emails::Entity::find().filter(outgoing_emails::Column::MerchantId.eq(merchant_id));
    store::page::fetch(db, select, outgoing_emails::Column::Id, page).await
}

/// The merchant's email, or NotFound (also for another merchant's).
pub async fn get(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    id: &str,
) -> Result<outgoing_emails::Model, crate::error::Error> {
    outgoing_emails::Entity::find_by_id(id)
        .filter(outgoing_emails::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| crate::error::Error::not_found("email", id))
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
