//! The merchant's daily summary of unpaid invoices (`unpaid_summary =
//! "daily"`). The fan-out holds each `invoice.unpaid` event of such a
//! merchant as an `unpaid_digest_items` row ([`hold`], once per event);
//! [`send_due`] turns the held items into one email per merchant and UTC day,
//! at the merchant's hour, through the outbox.
//!
//! Exactly once per merchant and day: the summary's `email_digests` row is
//! unique on (merchant, day) and is inserted first in the transaction that
//! takes the items and queues the email, so a second worker (or a restart)
//! finds the row and does nothing, and a crash before the commit leaves
//! everything for the next round. An item recorded just before the hour but
//! committed after the summary waits for the next day's: none is lost.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::messages::{self, Kind, Preferences};
use super::outbox;
use super::render::{self, Msg, UnpaidLine, sat_amount, when};
use crate::domain::ids::{DigestItemId, EmailDigestId};
use crate::store::{
    self, customers, email_digests, events, invoices, merchants, unpaid_digest_items,
};

/// Holds an `invoice.unpaid` event for the merchant's next summary; call in
/// the fan-out's transaction. Holding one event twice is harmless.
pub async fn hold(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    event: &events::Model,
) -> Result<(), DbErr> {
    unpaid_digest_items::Entity::insert(unpaid_digest_items::ActiveModel {
        id: Set(DigestItemId::new().to_string()),
        merchant_id: Set(event.merchant_id.clone()),
        invoice_id: Set(event.object_id.clone()),
        event_id: Set(event.id.clone()),
        went_unpaid_at: Set(event.created_at),
        digest_id: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(unpaid_digest_items::Column::EventId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The latest summary time at or before `now`: `hour`:00 UTC today, or
/// yesterday's when today's is still ahead.
pub fn slot(now: DateTime<Utc>, hour: u32) -> DateTime<Utc> {
    let at = NaiveTime::from_hms_opt(hour.min(23), 0, 0).expect("a valid hour");
    let today = now.date_naive().and_time(at).and_utc();
    if today <= now {
        today
    } else {
        today - Duration::days(1)
    }
}

/// Makes every summary due at `now`: for each merchant with items held from
/// before its latest summary time, one `email_digests` row for that day and
/// (when the merchant has an address) one queued email. Returns how many
/// summaries this call made.
pub async fn send_due(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<usize, DbErr> {
    // A plain read first: an idle worker takes no write lock.
    let waiting: Vec<String> = unpaid_digest_items::Entity::find()
        .select_only()
        .column(unpaid_digest_items::Column::MerchantId)
        .filter(unpaid_digest_items::Column::DigestId.is_null())
        .filter(unpaid_digest_items::Column::WentUnpaidAt.lte(now))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    let mut made = 0;
    for merchant_id in waiting {
        if summarise(db, now, &merchant_id).await? {
            made += 1;
        }
    }
    Ok(made)
}

/// One merchant's summary, if one is due; true when this call made it.
async fn summarise(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
) -> Result<bool, DbErr> {
    let Some(merchant) = merchants::Entity::find_by_id(merchant_id).one(db).await? else {
        return Ok(false);
    };
    let prefs = Preferences::from_settings(&merchant.settings);
    let until = slot(now, prefs.unpaid_summary_hour);
    let day = until.format("%Y-%m-%d").to_string();
    let held = || {
        unpaid_digest_items::Entity::find()
            .filter(unpaid_digest_items::Column::MerchantId.eq(merchant_id))
            .filter(unpaid_digest_items::Column::DigestId.is_null())
            .filter(unpaid_digest_items::Column::WentUnpaidAt.lt(until))
    };
    let already = email_digests::Entity::find()
        .filter(email_digests::Column::MerchantId.eq(merchant_id))
        .filter(email_digests::Column::DigestDate.eq(&day))
        .one(db)
        .await?
        .is_some();
    if already || held().one(db).await?.is_none() {
        return Ok(false);
    }

    let txn = store::begin_write(db).await?;
    let digest_id = EmailDigestId::new().to_string();
    // The day's row first: the one insert that can win. Another worker's
    // waits on it (PostgreSQL) or on the write lock (SQLite), then finds it.
    let inserted = email_digests::Entity::insert(email_digests::ActiveModel {
        id: Set(digest_id.clone()),
        merchant_id: Set(merchant_id.to_owned()),
        digest_date: Set(day.clone()),
        invoice_count: Set(0),
        email_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            email_digests::Column::MerchantId,
            email_digests::Column::DigestDate,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        txn.rollback().await?;
        return Ok(false);
    }
    let items = held()
        .order_by_asc(unpaid_digest_items::Column::WentUnpaidAt)
        .order_by_asc(unpaid_digest_items::Column::Id)
        .all(&txn)
        .await?;
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    for chunk in ids.chunks(store::IDS_PER_QUERY) {
        unpaid_digest_items::Entity::update_many()
            .col_expr(
                unpaid_digest_items::Column::DigestId,
                Expr::value(digest_id.clone()),
            )
            .filter(unpaid_digest_items::Column::Id.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?;
    }
    let (lines, total_msat) = lines(&txn, &items).await?;
    let count = lines.len();
    let msg = Msg {
        merchant_name: merchant.name.clone(),
        summary_date: day.clone(),
        amount: sat_amount(total_msat),
        unpaid: lines,
        ..Msg::default()
    };
    let address = match count {
        // Nothing left to list (the invoices are gone): no email.
        0 => None,
        _ => messages::merchant_address(&txn, &merchant, &prefs).await?,
    };
    let email_id = match address {
        Some(to) => match render::render(Kind::MerchantUnpaidSummary, &msg) {
            Ok(rendered) => Some(
                outbox::queue_one(
                    &txn,
                    now,
                    merchant_id,
                    Kind::MerchantUnpaidSummary,
                    to,
                    rendered,
                )
                .await?,
            ),
            Err(e) => {
                tracing::error!(error = %e, merchant = %merchant_id, "email: cannot render the unpaid summary");
                None
            }
        },
        None => None,
    };
    email_digests::Entity::update(email_digests::ActiveModel {
        id: Set(digest_id),
        invoice_count: Set(count as i32),
        email_id: Set(email_id),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// One line per held invoice (an invoice that went unpaid twice is listed
/// once), and their total.
async fn lines(
    db: &impl ConnectionTrait,
    items: &[unpaid_digest_items::Model],
) -> Result<(Vec<UnpaidLine>, i64), DbErr> {
    let mut out: Vec<UnpaidLine> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut total = 0i64;
    for item in items {
        if !seen.insert(item.invoice_id.clone()) {
            continue;
        }
        let Some(invoice) = invoices::Entity::find_by_id(&item.invoice_id)
            .one(db)
            .await?
        else {
            continue;
        };
        let customer = customers::Entity::find_by_id(&invoice.customer_id)
            .one(db)
            .await?
            .map(|c| c.name.or(c.email).unwrap_or(c.id))
            .unwrap_or_default();
        let due = invoice.amount_due_msat();
        total = total.saturating_add(due);
        out.push(UnpaidLine {
            number: invoice.number,
            customer,
            amount: sat_amount(due),
            went_unpaid: when(item.went_unpaid_at),
        });
    }
    Ok((out, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_slot_is_the_latest_summary_hour_at_or_before_now() {
        assert_eq!(
            slot(t("2027-12-09T08:00:00Z"), 8),
            t("2027-12-09T08:00:00Z")
        );
        assert_eq!(
            slot(t("2027-12-09T09:30:00Z"), 8),
            t("2027-12-09T08:00:00Z")
        );
        assert_eq!(
            slot(t("2027-12-09T07:59:59Z"), 8),
            t("2027-12-08T08:00:00Z")
        );
        assert_eq!(
            slot(t("2027-12-09T00:00:00Z"), 0),
            t("2027-12-09T00:00:00Z")
        );
        assert_eq!(
            slot(t("2028-03-01T05:00:00Z"), 23),
            t("2028-02-29T23:00:00Z")
        );
    }
}
