//! Reading a merchant's invoices and their payment requests. Invoices are
//! created and voided by `billing::invoicing`.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::domain::InvoiceStatus;
use crate::error::{Error, Result};
use crate::store::page::{self, Owned, Page, PageParams};
use crate::store::{invoices, payment_requests, push_attempts};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

/// The merchant's invoice, or NotFound (also for another merchant's).
pub async fn get(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    id: &str,
) -> Result<invoices::Model> {
    invoices::Entity::find_by_id(id)
        .filter(invoices::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("invoice", id))
}

/// The merchant's invoices, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    filter: Filter,
    page: &PageParams,
) -> Result<Page<invoices::Model>> {
    let status = filter
        .status
        .map(|status| {
            InvoiceStatus::parse(&status)
                .map_err(|_| Error::invalid("status", format!("unknown status `{status}`")))
        })
        .transpose()?;
    let mut select = invoices::Entity::find();
    if let Some(customer) = filter.customer {
        select = select.filter(invoices::Column::CustomerId.eq(customer));
    }
    if let Some(subscription) = filter.subscription {
        select = select.filter(invoices::Column::SubscriptionId.eq(subscription));
    }
    let key = Owned {
        owner: (invoices::Column::MerchantId, merchant_id),
        status: status.map(|s| (invoices::Column::Status, s.as_str())),
        id: invoices::Column::Id,
    };
    Ok(page::fetch_owned(db, select, key, page).await?)
}

/// The payment requests of the merchant's invoice, oldest first, each with
/// its push attempts (oldest first). NotFound for another merchant's invoice.
pub async fn payment_requests(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    invoice_id: &str,
) -> Result<Vec<(payment_requests::Model, Vec<push_attempts::Model>)>> {
    let invoice = get(db, merchant_id, invoice_id).await?;
    let requests = payment_requests::Entity::find()
        .filter(payment_requests::Column::MerchantId.eq(merchant_id))
        .filter(payment_requests::Column::InvoiceId.eq(&invoice.id))
        .order_by_asc(payment_requests::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<String> = requests.iter().map(|r| r.id.clone()).collect();
    let mut attempts = if ids.is_empty() {
        Vec::new()
    } else {
        push_attempts::Entity::find()
            .filter(push_attempts::Column::MerchantId.eq(merchant_id))
            .filter(push_attempts::Column::PaymentRequestId.is_in(ids))
            .order_by_asc(push_attempts::Column::Id)
            .all(db)
            .await?
    };
    Ok(requests
        .into_iter()
        .map(|r| {
            let (mine, rest) = attempts
                .drain(..)
                .partition(|a| a.payment_request_id == r.id);
            attempts = rest;
            (r, mine)
        })
        .collect())
}
