//! What the hosted pay page (`/pay/{token}`) shows: the invoice behind a pay
//! link, its merchant, and the BOLT11 a customer can pay now.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::{InvoiceStatus, PaymentRequestStatus};
use crate::error::Result;
use crate::store::{invoices, merchants, pay_links, payment_requests};

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

/// The page behind `token`; `None` for an unknown or forged one.
pub async fn load(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
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
    let payable = matches!(
        InvoiceStatus::parse(&invoice.status),
        Ok(InvoiceStatus::Open | InvoiceStatus::Uncollectible)
    );
    let (mut live, mut preparing) = (None, false);
    if payable {
        let requests = payment_requests::Entity::find()
            .filter(payment_requests::Column::InvoiceId.eq(&invoice.id))
            .order_by_desc(payment_requests::Column::CreatedAt)
            .order_by_desc(payment_requests::Column::Id)
            .all(db)
            .await?;
        live = requests
            .iter()
            .find(|r| {
                r.status == PaymentRequestStatus::Issued.as_str()
                    && r.bolt11.is_some()
                    && r.expires_at.is_some_and(|at| at > now)
            })
            .cloned();
        preparing = live.is_none()
            && requests
                .iter()
                .any(|r| r.status == PaymentRequestStatus::Pending.as_str());
    }
    Ok(Some(PayPage {
        merchant,
        invoice,
        live,
        preparing,
    }))
}
