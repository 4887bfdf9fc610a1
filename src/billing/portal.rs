//! What the customer portal shows a signed-in customer and what they may
//! do there: their subscriptions and invoices, cancel a subscription at the
//! end of its period (through `lifecycle`, the API's function: same events
//! and webhooks), and pay an open invoice on its pay page. Every object is
//! looked up within the merchant and then checked to be this customer's:
//! another customer's is NotFound, like an unknown one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::lifecycle;
use crate::catalog;
use crate::domain::{InvoiceStatus, SubscriptionStatus};
use crate::error::{Error, Result};
use crate::store::page::PageParams;
use crate::store::{self, invoices, pay_links, plans, subscriptions, wallet_connections};

/// Rows of each list the portal shows (newest first).
pub const SHOWN: u64 = 50;

/// A customer's subscriptions (each with its plan) and invoices.
#[derive(Debug, Clone)]
pub struct CustomerView {
    pub subscriptions: Vec<(subscriptions::Model, Option<plans::Model>)>,
    pub invoices: Vec<invoices::Model>,
    /// The active wallet connection of each subscription that has one.
    pub wallets: HashMap<String, wallet_connections::Model>,
}

pub async fn view(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    customer_id: &str,
) -> Result<CustomerView> {
    let recent = PageParams {
        limit: SHOWN,
        cursor: None,
    };
    let subs = catalog::subscriptions::list(
        db,
        merchant_id,
        catalog::subscriptions::Filter {
            customer: Some(customer_id.to_owned()),
            ..Default::default()
        },
        &recent,
    )
    .await?
    .data;
    let invoices = catalog::invoices::list(
        db,
        merchant_id,
        catalog::invoices::Filter {
            customer: Some(customer_id.to_owned()),
            ..Default::default()
        },
        &recent,
    )
    .await?
    .data;
    let plan_ids: Vec<&str> = subs.iter().map(|s| s.plan_id.as_str()).collect();
    let plans: HashMap<String, plans::Model> = plans::Entity::find()
        .filter(plans::Column::MerchantId.eq(merchant_id))
        .filter(plans::Column::Id.is_in(plan_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id.clone(), p))
        .collect();
    let wallets = wallet_connections::active_for_all(db, subs.iter().map(|s| s.id.as_str()))
        .await?
        .into_iter()
        .map(|w| (w.subscription_id.clone(), w))
        .collect();
    Ok(CustomerView {
        wallets,
        subscriptions: subs
            .into_iter()
            .map(|s| {
                let plan = plans.get(&s.plan_id).cloned();
                (s, plan)
            })
            .collect(),
        invoices,
    })
}

/// Whether the customer may change how `sub` is paid from the portal: it
/// has not ended.
pub fn can_change_payment_method(sub: &subscriptions::Model) -> bool {
    SubscriptionStatus::parse(&sub.status).is_ok_and(|s| !s.is_terminal())
}

/// Whether the customer may cancel `sub` at the end of its period from the
/// portal: it is active or trialing and not already set to.
pub fn can_cancel_at_period_end(sub: &subscriptions::Model) -> bool {
    let status = SubscriptionStatus::parse(&sub.status).ok();
    matches!(
        status,
        Some(SubscriptionStatus::Active | SubscriptionStatus::Trialing)
    ) && !sub.cancel_at_period_end
}

/// Whether an invoice can be paid on its pay page (open, or unpaid after its
/// grace period, which still takes a payment).
pub fn payable(invoice: &invoices::Model) -> bool {
    invoice.status == InvoiceStatus::Open.as_str()
        || invoice.status == InvoiceStatus::Uncollectible.as_str()
}

/// The customer cancels their subscription `id` at the end of its current
/// period (`now`: the merchant's time).
pub async fn cancel_at_period_end(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    customer_id: &str,
    id: &str,
) -> Result<subscriptions::Model> {
    let txn = store::begin_write(db).await?;
    let sub = lifecycle::get(&txn, merchant_id, id).await?;
    if sub.customer_id != customer_id {
        return Err(Error::not_found("subscription", id));
    }
    if !can_cancel_at_period_end(&sub) {
        return Err(Error::conflict(
            "subscription_not_cancelable",
            match sub.cancel_at_period_end {
                true => "This subscription already ends at the end of its period.".to_owned(),
                false => format!("A {} subscription cannot be canceled here.", sub.status),
            },
        ));
    }
    let sub = lifecycle::cancel_in(&txn, now, merchant_id, id, true).await?;
    txn.commit().await?;
    Ok(sub)
}

/// The pay-page token of the customer's invoice `id` (made on first use),
/// when it can be paid.
pub async fn pay_token(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    customer_id: &str,
    id: &str,
) -> Result<String> {
    let invoice = catalog::invoices::get(db, merchant_id, id).await?;
    if invoice.customer_id != customer_id {
        return Err(Error::not_found("invoice", id));
    }
    if !payable(&invoice) {
        return Err(Error::conflict(
            "invoice_not_payable",
            format!(
                "Invoice {} is {}: there is nothing to pay.",
                invoice.number, invoice.status
            ),
        ));
    }
    let txn = store::begin_write(db).await?;
    let token = pay_links::token_for(&txn, now, &invoice).await?;
    txn.commit().await?;
    Ok(token)
}
