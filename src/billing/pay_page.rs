//! What the hosted pay page (`/pay/{token}`) shows: the invoice behind a pay
//! link, its merchant, and the BOLT11 a customer can pay now.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};

use super::payment_requests as requests;
use crate::clock::Clocks;
use crate::domain::InvoiceStatus;
use crate::error::Result;
use crate::store::events::EventBatch;
use crate::store::{self, invoices, merchants, pay_links, payment_requests, queue};

/// An invoice as its pay page shows it.
#[derive(Debug, Clone)]
pub struct PayPage {
    pub merchant: merchants::Model,
    pub invoice: invoices::Model,
    /// The latest issued, unexpired payment request, for an invoice that
    /// still takes payment (open or uncollectible).
    pub live: Option<payment_requests::Model>,
    /// A payment request is waiting for the node to issue it.
    pub preparing: bool,
}

impl PayPage {
    /// The customer may ask for a fresh BOLT11: the invoice takes payment
    /// and none is live or being prepared.
    pub fn can_refresh(&self) -> bool {
        takes_payment(&self.invoice) && self.live.is_none() && !self.preparing
    }
}

fn takes_payment(invoice: &invoices::Model) -> bool {
    matches!(
        InvoiceStatus::parse(&invoice.status),
        Ok(InvoiceStatus::Open | InvoiceStatus::Uncollectible)
    )
}

/// The page behind `token`; `None` for an unknown or forged one. What is
/// payable is judged at the invoice's merchant's time.
pub async fn load(
    db: &impl ConnectionTrait,
    clocks: &Clocks,
    token: &str,
) -> Result<Option<PayPage>> {
    let Some(link) = pay_links::find(db, token).await? else {
        return Ok(None);
    };
    let Some(invoice) = invoices::Entity::find_by_id(&link.invoice_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(merchant) = merchants::Entity::find_by_id(&invoice.merchant_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let (mut live, mut preparing) = (None, false);
    if takes_payment(&invoice) {
        let now = clocks.now_for(db, &invoice.merchant_id).await?;
        let all = payment_requests::Entity::find()
            .filter(payment_requests::Column::InvoiceId.eq(&invoice.id))
            .order_by_desc(payment_requests::Column::CreatedAt)
            .order_by_desc(payment_requests::Column::Id)
            .all(db)
            .await?;
        live = all.iter().find(|r| requests::is_payable(r, now)).cloned();
        preparing = live.is_none() && all.iter().any(requests::is_pending);
    }
    Ok(Some(PayPage {
        merchant,
        invoice,
        live,
        preparing,
    }))
}

/// The customer asks for a fresh BOLT11 (the last one expired, or dunning
/// canceled it): queues a payment request for the node to issue (not
/// pushed: the customer is on the page), unless the invoice no longer takes
/// payment or one is already live or pending (at the invoice's merchant's
/// time). `None` for an unknown token.
pub async fn request_fresh(
    db: &DatabaseConnection,
    clocks: &Clocks,
    token: &str,
) -> Result<Option<()>> {
    let Some(link) = pay_links::find(db, token).await? else {
        return Ok(None);
    };
    let txn = store::begin_write(db).await?;
    // The invoice's row lock serialises two clicks on PostgreSQL.
    let Some(invoice) =
        queue::lock_one(invoices::Entity::find_by_id(&link.invoice_id), &txn).await?
    else {
        return Ok(None);
    };
    if takes_payment(&invoice) {
        let now = clocks.now_for(&txn, &invoice.merchant_id).await?;
        let mut events = EventBatch::new();
        requests::renew(&txn, now, &invoice, &mut events).await?;
        events.insert(&txn).await?;
    }
    txn.commit().await?;
    Ok(Some(()))
}
