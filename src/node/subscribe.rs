//! The merchant's side of the subscribe handshake (docs/push-invoices.md
//! section 4): `subscribe_request` is answered with the terms behind the
//! code, kept as an offer to that peer; `subscribe_accept` from the same
//! peer creates (or links) the customer with the node id the BOLT 8
//! handshake proved, the subscription for a plan code, and the grant, in one
//! transaction with their events, and is answered `subscribe_result`.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

use crate::billing::grants::{self, NewGrant};
use crate::billing::lifecycle::{self, NewSubscription};
use crate::catalog;
use crate::catalog::customers::NewCustomer;
use crate::catalog::policy::PlanRules;
use crate::clock::Clocks;
use crate::domain::{EmailAddress, NodeAddress, NodeId, Schedule};
use crate::error::{Error, Result};
use crate::store::events::EventBatch;
use crate::store::{self, merchants, plans, subscribe_codes, subscribe_offers};
use push_protocol::grant::{OfferId, valid_address};
use push_protocol::subscribe::{
    Offer, ResultStatus, SubscribeAccept, SubscribeRequest, SubscribeResult, SubscribeTerms,
    TermsReply, Window,
};

/// An offer not accepted yet is answered again (same `offer_id`) to the
/// same peer asking about the same code for this long, and can be accepted
/// for this long; then it is stale, and pruned.
const OFFER_LIFETIME: Duration = Duration::hours(1);

/// Open (unaccepted, not stale) offers one peer may hold, over all codes.
/// Node ids cost nothing to make, so this alone bounds nothing: see
/// [`MERCHANT_OPEN_OFFERS`].
pub const PEER_OPEN_OFFERS: u64 = 8;

/// Open offers one merchant's codes may have in all: what a flood of fresh
/// node ids can make the merchant store, at most, before the flood only
/// delays that merchant's new signups.
pub const MERCHANT_OPEN_OFFERS: u64 = 10_000;

/// What an offer promised, as stored (the plan may change later).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    plan_id: Option<String>,
    customer_id: Option<String>,
    amount_msat: u64,
    cap_msat: u64,
    window: String,
    description: String,
}

/// Answers a `subscribe_request` from `peer` (its BOLT 8 node id).
pub async fn terms(
    db: &DatabaseConnection,
    clocks: &Clocks,
    peer: &NodeId,
    request: &SubscribeRequest,
) -> Result<SubscribeTerms> {
    let refuse = |error: &str| SubscribeTerms {
        code: request.code.clone(),
        reply: TermsReply::Error(error.to_owned()),
    };
    let Some(code) = subscribe_codes::Entity::find_by_id(&request.code)
        .one(db)
        .await?
    else {
        return Ok(refuse("unknown code"));
    };
    let now = clocks.now_for(db, &code.merchant_id).await?;
    if let Some(error) = unusable(&code, now) {
        return Ok(refuse(error));
    }
    let merchant = merchants::Entity::find_by_id(&code.merchant_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt(format!("subscribe code: merchant {}", code.merchant_id)))?;
    let plan = match &code.plan_id {
        Some(id) => match plans::Entity::find_by_id(id).one(db).await? {
            Some(plan) if plan.status == catalog::plans::ACTIVE => Some(plan),
            _ => return Ok(refuse("this plan is no longer offered")),
        },
        None => None,
    };
    let mut offer = match &plan {
        Some(plan) => plan_offer(plan, &code)?,
        None => account_offer(db, &code).await?,
    };
    offer.merchant_id = merchant.id.clone();
    offer.merchant_name = merchant.name.clone();
    let node_address = request
        .node_address
        .clone()
        .filter(|a| valid_address(a) && NodeAddress::parse(&format!("{peer}@{a}")).is_ok());
    let snapshot = Snapshot {
        plan_id: code.plan_id.clone(),
        customer_id: code.customer_id.clone(),
        amount_msat: offer.amount_msat,
        cap_msat: offer.cap_msat,
        window: offer.window.as_str().to_owned(),
        description: offer.description.clone(),
    };
    let terms = serde_json::to_value(&snapshot).map_err(|e| Error::corrupt(e.to_string()))?;
    let fresh_since = now - OFFER_LIFETIME;
    let open = subscribe_offers::Entity::find()
        .filter(subscribe_offers::Column::Code.eq(&code.code))
        .filter(subscribe_offers::Column::NodeId.eq(peer.to_string()))
        .filter(subscribe_offers::Column::GrantKey.is_null())
        .filter(subscribe_offers::Column::CreatedAt.gt(fresh_since))
        .order_by_desc(subscribe_offers::Column::CreatedAt)
        .one(db)
        .await?;
    offer.offer_id = match open {
        Some(row) => {
            // The same question again: the same offer, with what is true now.
            let id = OfferId::from_hex(&row.offer_id)
                .ok_or_else(|| Error::corrupt(format!("offer {}", row.offer_id)))?;
            let mut row = row.into_active_model();
            row.terms = Set(terms);
            row.node_address = Set(node_address);
            row.update(db).await?;
            id
        }
        None => {
            if let Some(error) = over_bounds(db, &code.merchant_id, peer, fresh_since).await? {
                return Ok(refuse(error));
            }
            let id = OfferId::random();
            subscribe_offers::ActiveModel {
                offer_id: Set(id.to_hex()),
                code: Set(code.code.clone()),
                merchant_id: Set(code.merchant_id.clone()),
                node_id: Set(peer.to_string()),
                node_address: Set(node_address),
                terms: Set(terms),
                grant_key: Set(None),
                grant_id: Set(None),
                customer_id: Set(None),
                subscription_id: Set(None),
                created_at: Set(now),
            }
            .insert(db)
            .await?;
            id
        }
    };
    Ok(SubscribeTerms {
        code: request.code.clone(),
        reply: TermsReply::Offer(offer),
    })
}

/// Why a new offer cannot be made now, if it cannot: after pruning the
/// merchant's stale offers, the peer's or the merchant's open offers are at
/// their bound.
async fn over_bounds(
    db: &DatabaseConnection,
    merchant_id: &str,
    peer: &NodeId,
    fresh_since: DateTime<Utc>,
) -> Result<Option<&'static str>> {
    let open = || {
        subscribe_offers::Entity::find()
            .filter(subscribe_offers::Column::GrantKey.is_null())
            .filter(subscribe_offers::Column::CreatedAt.gt(fresh_since))
    };
    subscribe_offers::Entity::delete_many()
        .filter(subscribe_offers::Column::MerchantId.eq(merchant_id))
        .filter(subscribe_offers::Column::GrantKey.is_null())
        .filter(subscribe_offers::Column::CreatedAt.lte(fresh_since))
        .exec(db)
        .await?;
    let peer_open = open()
        .filter(subscribe_offers::Column::NodeId.eq(peer.to_string()))
        .count(db)
        .await?;
    if peer_open >= PEER_OPEN_OFFERS {
        return Ok(Some(
            "too many open offers for this node: accept one, or ask again in an hour",
        ));
    }
    let merchant_open = open()
        .filter(subscribe_offers::Column::MerchantId.eq(merchant_id))
        .count(db)
        .await?;
    if merchant_open >= MERCHANT_OPEN_OFFERS {
        return Ok(Some("too many signups in progress: try again later"));
    }
    Ok(None)
}

/// Why a code cannot be used now.
fn unusable(code: &subscribe_codes::Model, now: DateTime<Utc>) -> Option<&'static str> {
    if code.expires_at <= now {
        Some("this code has expired")
    } else if code.used_at.is_some() {
        Some("this code has been used")
    } else {
        None
    }
}

fn plan_offer(plan: &plans::Model, code: &subscribe_codes::Model) -> Result<Offer> {
    let rules = PlanRules::from_model(plan)?;
    let amount = rules.amount.as_u64();
    let (cap_msat, window) = match suggested(code)? {
        Some(s) => s,
        None => (amount, matching_window(&rules.schedule)),
    };
    let trial_days = u64::try_from(rules.trial.num_days()).unwrap_or(0);
    Ok(Offer {
        offer_id: OfferId([0; 16]),
        merchant_id: String::new(),
        merchant_name: String::new(),
        description: plan.name.clone(),
        amount_msat: amount,
        cap_msat,
        window,
        interval: Some(interval_text(&rules.schedule)),
        trial_days: Some(trial_days),
        due_now_msat: Some(if rules.trial > Duration::zero() {
            0
        } else {
            amount
        }),
    })
}

async fn account_offer(db: &impl ConnectionTrait, code: &subscribe_codes::Model) -> Result<Offer> {
    let customer_id = code.customer_id.as_deref().ok_or_else(|| {
        Error::corrupt(format!(
            "subscribe code {}: no plan, no customer",
            code.code
        ))
    })?;
    let customer = catalog::customers::get(db, &code.merchant_id, customer_id).await?;
    let (cap_msat, window) = suggested(code)?
        .ok_or_else(|| Error::corrupt(format!("account code {}: no cap", code.code)))?;
    let who = customer
        .name
        .or(customer.email)
        .unwrap_or_else(|| customer.id.clone());
    Ok(Offer {
        offer_id: OfferId([0; 16]),
        merchant_id: String::new(),
        merchant_name: String::new(),
        description: format!("Account: one-off invoices for {who}"),
        amount_msat: 0,
        cap_msat,
        window,
        interval: None,
        trial_days: None,
        due_now_msat: Some(0),
    })
}

/// The cap the merchant put on the code, if any.
fn suggested(code: &subscribe_codes::Model) -> Result<Option<(u64, Window)>> {
    let (Some(cap), Some(window)) = (code.cap_msat, code.window.as_deref()) else {
        return Ok(None);
    };
    let corrupt = || Error::corrupt(format!("subscribe code {}: cap", code.code));
    Ok(Some((
        u64::try_from(cap).map_err(|_| corrupt())?,
        Window::parse(window).ok_or_else(corrupt)?,
    )))
}

/// The longest calendar window no longer than one period, so that the
/// plan's amount per window covers one invoice per period.
fn matching_window(schedule: &Schedule) -> Window {
    use crate::domain::Interval;
    match schedule {
        Schedule::Every { interval, .. } => match interval {
            Interval::Day => Window::Day,
            Interval::Week => Window::Week,
            Interval::Month | Interval::Year => Window::Month,
        },
        Schedule::Cron(cron) => {
            // The shortest of the next gaps between firings.
            let mut gap = Duration::days(31);
            let mut at = cron.next_after(Utc::now());
            for _ in 0..8 {
                let Some(prev) = at else { break };
                let next = cron.next_after(prev);
                if let Some(next) = next {
                    gap = gap.min(next - prev);
                }
                at = next;
            }
            if gap >= Duration::days(28) {
                Window::Month
            } else if gap >= Duration::days(7) {
                Window::Week
            } else if gap >= Duration::days(1) {
                Window::Day
            } else if gap >= Duration::hours(1) {
                Window::Hour
            } else {
                Window::Minute
            }
        }
    }
}

/// "1 month", "every 3 months", "cron 0 0 1 * *".
fn interval_text(schedule: &Schedule) -> String {
    match schedule {
        Schedule::Every { interval, count: 1 } => format!("1 {interval}"),
        Schedule::Every { interval, count } => format!("every {count} {interval}s"),
        Schedule::Cron(cron) => format!("cron {}", cron.as_str()),
    }
}

/// Answers a `subscribe_accept` from `peer` (its BOLT 8 node id).
pub async fn accept(
    db: &DatabaseConnection,
    clocks: &Clocks,
    peer: &NodeId,
    accept: &SubscribeAccept,
) -> Result<SubscribeResult> {
    let refused = |message: &str| SubscribeResult {
        offer_id: accept.offer_id,
        grant_id: accept.grant_id,
        status: ResultStatus::Refused,
        subscription_id: None,
        customer_id: None,
        message: Some(message.to_owned()),
    };
    let txn = store::begin_write(db).await?;
    let offer = store::queue::lock_one(
        subscribe_offers::Entity::find_by_id(accept.offer_id.to_hex()),
        &txn,
    )
    .await?;
    let Some(offer) = offer.filter(|o| o.node_id == peer.to_string()) else {
        // Unknown, or made to another node: the same answer, so an offer id
        // learned elsewhere tells nothing.
        return Ok(refused("unknown offer"));
    };
    if let Some(key) = &offer.grant_key {
        if *key != accept.grant_id.to_hex() {
            return Ok(refused("this offer has been used"));
        }
        let grant = match &offer.grant_id {
            Some(id) => store::grants::Entity::find_by_id(id).one(&txn).await?,
            None => None,
        }
        .ok_or_else(|| Error::corrupt(format!("offer {}: grant missing", offer.offer_id)))?;
        return Ok(if grant.status == store::grants::ACTIVE {
            // The same accept again: the same answer, while the grant lives.
            SubscribeResult {
                offer_id: accept.offer_id,
                grant_id: accept.grant_id,
                status: ResultStatus::Active,
                subscription_id: offer.subscription_id.clone(),
                customer_id: offer.customer_id.clone(),
                message: None,
            }
        } else {
            refused("this grant has ended")
        });
    }
    let code = store::queue::lock_one(subscribe_codes::Entity::find_by_id(&offer.code), &txn)
        .await?
        .ok_or_else(|| Error::corrupt(format!("offer {}: code missing", offer.offer_id)))?;
    let now = clocks.now_for(&txn, &code.merchant_id).await?;
    if let Some(error) = unusable(&code, now) {
        return Ok(refused(error));
    }
    if offer.created_at <= now - OFFER_LIFETIME {
        return Ok(refused("this offer has expired: ask for the terms again"));
    }
    let snapshot: Snapshot = serde_json::from_value(offer.terms.clone())
        .map_err(|e| Error::corrupt(format!("offer {}: {e}", offer.offer_id)))?;
    if let Some(message) = check_accept(accept, &snapshot, now) {
        return Ok(refused(&message));
    }
    let taken = store::grants::Entity::find()
        .filter(store::grants::Column::GrantKey.eq(accept.grant_id.to_hex()))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Ok(refused("this grant id is in use"));
    }
    let email = match &accept.email {
        Some(e) => match EmailAddress::parse(e) {
            Ok(e) => Some(e),
            Err(_) => return Ok(refused("the email address is not valid")),
        },
        None => None,
    };
    let node_address = offer
        .node_address
        .as_deref()
        .and_then(|a| NodeAddress::parse(&format!("{peer}@{a}")).ok());
    let mut events = EventBatch::new();
    let customer = match &code.customer_id {
        Some(id) => {
            catalog::customers::verify_node_in(&txn, now, &code.merchant_id, id, peer, node_address)
                .await?
        }
        None => match catalog::customers::find_verified(&txn, &code.merchant_id, peer).await? {
            Some(c) => {
                catalog::customers::verify_node_in(
                    &txn,
                    now,
                    &code.merchant_id,
                    &c.id,
                    peer,
                    node_address,
                )
                .await?
            }
            None => {
                let new = NewCustomer {
                    email,
                    node_id: Some(*peer),
                    node_address,
                    ..NewCustomer::default()
                };
                catalog::customers::create_in(&txn, now, &code.merchant_id, new, true).await?
            }
        },
    };
    let subscription = match &snapshot.plan_id {
        Some(plan_id) => {
            let new = NewSubscription {
                customer_id: customer.id.clone(),
                plan_id: plan_id.clone(),
                ..NewSubscription::default()
            };
            match lifecycle::create_in(&txn, now, &code.merchant_id, new).await {
                Ok((sub, _invoice)) => Some(sub),
                Err(Error::Invalid { message, .. }) => return Ok(refused(&message)),
                Err(e) => return Err(e),
            }
        }
        None => None,
    };
    let grant = grants::create(
        &txn,
        now,
        &code.merchant_id,
        NewGrant {
            customer_id: customer.id.clone(),
            subscription_id: subscription.as_ref().map(|s| s.id.clone()),
            grant_key: accept.grant_id,
            node_id: peer.to_string(),
            cap_msat: i64::try_from(accept.cap_msat).unwrap_or(i64::MAX),
            window: accept.window,
            per_invoice_max_msat: accept
                .per_invoice_max_msat
                .map(|m| i64::try_from(m).unwrap_or(i64::MAX)),
            ends_at: accept
                .ends_at
                .and_then(|s| i64::try_from(s).ok())
                .and_then(|s| DateTime::from_timestamp(s, 0)),
        },
        &mut events,
    )
    .await?;
    events.insert(&txn).await?;
    if code.customer_id.is_some() {
        let mut code = code.into_active_model();
        code.used_at = Set(Some(now));
        code.update(&txn).await?;
    }
    let mut row = offer.into_active_model();
    row.grant_key = Set(Some(grant.grant_key.clone()));
    row.grant_id = Set(Some(grant.id.clone()));
    row.customer_id = Set(Some(customer.id.clone()));
    row.subscription_id = Set(subscription.as_ref().map(|s| s.id.clone()));
    row.update(&txn).await?;
    txn.commit().await?;
    tracing::info!(grant = %grant.id, customer = %customer.id, "subscribe handshake: grant created");
    Ok(SubscribeResult {
        offer_id: accept.offer_id,
        grant_id: accept.grant_id,
        status: ResultStatus::Active,
        subscription_id: subscription.map(|s| s.id),
        customer_id: Some(customer.id),
        message: None,
    })
}

/// Why the caps of an accept do not do for the offer, for the subscriber.
fn check_accept(accept: &SubscribeAccept, offer: &Snapshot, now: DateTime<Utc>) -> Option<String> {
    if i64::try_from(accept.cap_msat).is_err() {
        return Some("cap_msat is out of range".into());
    }
    if offer.plan_id.is_some() && accept.cap_msat < offer.amount_msat {
        return Some(format!(
            "cap_msat is below the plan's amount ({} msat)",
            offer.amount_msat
        ));
    }
    if offer.plan_id.is_some()
        && accept
            .per_invoice_max_msat
            .is_some_and(|m| m < offer.amount_msat)
    {
        return Some(format!(
            "per_invoice_max_msat is below the plan's amount ({} msat)",
            offer.amount_msat
        ));
    }
    if accept
        .ends_at
        .is_some_and(|end| i64::try_from(end).is_ok_and(|end| end <= now.timestamp()))
    {
        return Some("ends_at is in the past".into());
    }
    None
}
