//! Grants: a subscriber's consent, made by their node in the subscribe
//! handshake, to one merchant's subscription or account (docs/push-invoices.md
//! section 4). The one owner of the `grants` rows' lifecycle: created with
//! the handshake's customer and subscription, ended by the subscriber
//! (`grant_end` from their node) or with the subscription (canceled, or set
//! to cancel at period end), and the deployment rule of which grant an
//! invoice commits to.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::ids::GrantId as GrantRowId;
use crate::domain::{EventType, SubscriptionStatus};
use crate::error::Result;
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::{self, customers, grants, invoices, queue, subscriptions};
use push_protocol::grant::GrantId;
use push_protocol::subscribe::{EndedBy, Window};

/// A grant as the subscriber's `subscribe_accept` made it.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub customer_id: String,
    pub subscription_id: Option<String>,
    pub grant_key: GrantId,
    /// The peer that accepted (BOLT 8).
    pub node_id: String,
    pub cap_msat: i64,
    pub window: Window,
    pub per_invoice_max_msat: Option<i64>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// Inserts the grant and records `grant.created`.
pub async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    new: NewGrant,
    events: &mut EventBatch,
) -> Result<grants::Model> {
    let row = grants::Model {
        id: GrantRowId::new().to_string(),
        merchant_id: merchant_id.to_owned(),
        customer_id: new.customer_id,
        subscription_id: new.subscription_id,
        grant_key: new.grant_key.to_hex(),
        node_id: new.node_id,
        cap_msat: new.cap_msat,
        window: new.window.as_str().to_owned(),
        per_invoice_max_msat: new.per_invoice_max_msat,
        ends_at: new.ends_at,
        status: grants::ACTIVE.to_owned(),
        ended_by: None,
        end_notice_pending: false,
        created_at: now,
        ended_at: None,
    };
    let active: grants::ActiveModel = row.clone().into();
    grants::Entity::insert(active)
        .exec_without_returning(db)
        .await?;
    push_event(events, &row, EventType::GrantCreated, now);
    Ok(row)
}

fn push_event(events: &mut EventBatch, row: &grants::Model, event: EventType, now: DateTime<Utc>) {
    events.push(
        &row.merchant_id,
        event,
        "grant",
        &row.id,
        objects::Grant::from(row),
        now,
    );
}

/// The grant with this key that `node_id` made, locked for a change.
pub async fn lock_by_key(
    db: &impl ConnectionTrait,
    node_id: &str,
    grant_key: &GrantId,
) -> Result<Option<grants::Model>> {
    let query = grants::Entity::find()
        .filter(grants::Column::GrantKey.eq(grant_key.to_hex()))
        .filter(grants::Column::NodeId.eq(node_id));
    Ok(queue::lock_one(query, db).await?)
}

/// Ends an active grant as the subscriber asked (`grant_end` from their
/// node): `grant.revoked`. Nothing is owed back to the subscriber's node, it
/// ended the grant itself. `None` when it had already ended.
pub async fn revoke(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    mut row: grants::Model,
    events: &mut EventBatch,
) -> Result<Option<grants::Model>> {
    if row.status != grants::ACTIVE {
        return Ok(None);
    }
    end(&mut row, EndedBy::Subscriber, now);
    store::save(db, row.clone()).await?;
    push_event(events, &row, EventType::GrantRevoked, now);
    Ok(Some(row))
}

fn end(row: &mut grants::Model, by: EndedBy, now: DateTime<Utc>) {
    row.status = grants::ENDED.to_owned();
    row.ended_by = Some(by.as_str().to_owned());
    row.ended_at = Some(now);
    // The merchant's side tells the subscriber's node; the subscriber's own
    // end needs no notice.
    row.end_notice_pending = by == EndedBy::Merchant;
}

/// Whether a subscription no longer takes invoices under a grant: canceled,
/// or set to cancel at the end of its period.
fn ends_grants(sub: &subscriptions::Model) -> bool {
    sub.cancel_at_period_end || sub.status == SubscriptionStatus::Canceled.as_str()
}

/// Ends the active grants of those of `subs` that were canceled or set to
/// cancel at period end (`grant.ended`, ended by the merchant), leaving a
/// `grant_end` for the node role to deliver. Called in the transaction that
/// writes the subscriptions; no query when none of them ended.
pub async fn end_for_subscriptions(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    subs: &[subscriptions::Model],
    events: &mut EventBatch,
) -> Result<()> {
    let ended: Vec<&str> = subs
        .iter()
        .filter(|s| ends_grants(s))
        .map(|s| s.id.as_str())
        .collect();
    for chunk in ended.chunks(store::IDS_PER_QUERY) {
        let rows = grants::Entity::find()
            .filter(grants::Column::SubscriptionId.is_in(chunk.iter().copied()))
            .filter(grants::Column::Status.eq(grants::ACTIVE))
            .order_by_asc(grants::Column::Id)
            .all(db)
            .await?;
        for mut row in rows {
            end(&mut row, EndedBy::Merchant, now);
            store::save(db, row.clone()).await?;
            push_event(events, &row, EventType::GrantEnded, now);
        }
    }
    Ok(())
}

/// The subscriber's node acknowledged the end of a grant: no more
/// `grant_end` for it. Returns whether a notice was pending.
pub async fn acknowledge_end(
    db: &impl ConnectionTrait,
    node_id: &str,
    grant_key: &GrantId,
) -> Result<bool> {
    let result = grants::Entity::update_many()
        .col_expr(
            grants::Column::EndNoticePending,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(grants::Column::GrantKey.eq(grant_key.to_hex()))
        .filter(grants::Column::NodeId.eq(node_id))
        .filter(grants::Column::Status.eq(grants::ENDED))
        .filter(grants::Column::EndNoticePending.eq(true))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Ended grants whose subscriber's node has not acknowledged the end yet.
pub async fn pending_end_notices(db: &impl ConnectionTrait) -> Result<Vec<grants::Model>> {
    Ok(grants::Entity::find()
        .filter(grants::Column::EndNoticePending.eq(true))
        .order_by_asc(grants::Column::Id)
        .all(db)
        .await?)
}

/// The grant an invoice commits to (the deployment rule): an active grant
/// the invoice's merchant holds, made by the node the customer proved in a
/// handshake, that covers the invoice: the grant of its subscription, or for
/// a one-off invoice the customer's account grant. `None` for a customer
/// whose node id is not verified, and when no grant covers it.
pub async fn covering(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoice: &invoices::Model,
) -> Result<Option<GrantId>> {
    let customers: HashMap<String, customers::Model> =
        customers::Entity::find_by_id(&invoice.customer_id)
            .one(db)
            .await?
            .map(|c| (c.id.clone(), c))
            .into_iter()
            .collect();
    let mut covering = covering_all(db, now, &[invoice], &customers).await?;
    Ok(covering.remove(&invoice.id))
}

/// [`covering`] for a batch of invoices (the issuer's), their customers
/// already read: one query for the grants of all of them. Maps invoice ids
/// to the grant each commits to; an invoice without one is left out.
pub async fn covering_all(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    invoices: &[&invoices::Model],
    customers: &HashMap<String, customers::Model>,
) -> Result<HashMap<String, GrantId>> {
    // Only a node the customer proved, and only the invoice's own merchant's customer.
    let proven: Vec<(&invoices::Model, &str)> = invoices
        .iter()
        .filter_map(|invoice| {
            let customer = customers
                .get(&invoice.customer_id)
                .filter(|c| c.merchant_id == invoice.merchant_id && c.node_id_verified)?;
            Some((*invoice, customer.node_id.as_deref()?))
        })
        .collect();
    if proven.is_empty() {
        return Ok(HashMap::new());
    }
    let mut customer_ids: Vec<&str> = proven.iter().map(|(i, _)| i.customer_id.as_str()).collect();
    customer_ids.sort_unstable();
    customer_ids.dedup();
    // Newest first; a customer's grants all come from one chunk, so stay in that order.
    let mut active = Vec::new();
    for chunk in customer_ids.chunks(store::IDS_PER_QUERY) {
        active.extend(
            grants::Entity::find()
                .filter(grants::Column::CustomerId.is_in(chunk.iter().copied()))
                .filter(grants::Column::Status.eq(grants::ACTIVE))
                .order_by_desc(grants::Column::CreatedAt)
                .order_by_desc(grants::Column::Id)
                .all(db)
                .await?,
        );
    }
    Ok(proven
        .into_iter()
        .filter_map(|(invoice, node_id)| {
            let grant = active.iter().find(|g| {
                g.merchant_id == invoice.merchant_id
                    && g.customer_id == invoice.customer_id
                    && g.node_id == node_id
                    && g.subscription_id == invoice.subscription_id
                    && g.ends_at.is_none_or(|end| end > now)
            })?;
            Some((invoice.id.clone(), GrantId::from_hex(&grant.grant_key)?))
        })
        .collect())
}
