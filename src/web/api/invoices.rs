//! /v1/invoices

use actix_web::{HttpResponse, web};
use chrono::Duration;
use serde::Deserialize;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::subscriptions::Empty;
use crate::app::AppState;
use crate::billing::invoicing;
use crate::catalog::invoices::{self, Filter};
use crate::domain::{InvoiceId, Msat};
use crate::objects;
use crate::store::page::Page;

/// A one-off invoice is due a day after it is created unless told otherwise.
const DEFAULT_DUE_IN_SECS: u32 = 86_400;

fn ok(invoice: &crate::store::invoices::Model) -> HttpResponse {
    HttpResponse::Ok().json(objects::Invoice::from(invoice))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInvoice {
    customer: String,
    amount_msat: Msat,
    description: Option<String>,
    due_in_secs: Option<u32>,
}

/// A one-off invoice; its payment request is pushed when the customer has a node.
pub async fn create(
    state: web::Data<AppState>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateInvoice>,
) -> Result<HttpResponse, ApiError> {
    let due_in = Duration::seconds(body.due_in_secs.unwrap_or(DEFAULT_DUE_IN_SECS).into());
    let invoice = invoicing::create_one_off(
        &state.db,
        state.clock.now(),
        &merchant.id,
        &body.customer,
        body.amount_msat,
        body.description,
        due_in,
    )
    .await?;
    Ok(ok(&invoice))
}

pub async fn get(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        &invoices::get(&state.db, &merchant.id, id.as_str()).await?
    ))
}

list_query!(ListInvoices {
    status: Option<String>,
    customer: Option<String>,
    subscription: Option<String>,
});

pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
    query: web::Query<ListInvoices>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = q.page(InvoiceId::PREFIX)?;
    let filter = Filter {
        status: q.status,
        customer: q.customer,
        subscription: q.subscription,
    };
    let page = invoices::list(&state.db, &merchant.id, filter, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/invoices",
        page.map(|i| objects::Invoice::from(&i)),
    )))
}

/// 409 `invoice_not_voidable` unless the invoice is open or uncollectible.
pub async fn void(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let invoice = invoicing::void(&state.db, state.clock.now(), &merchant.id, id.as_str()).await?;
    Ok(ok(&invoice))
}

/// The invoice's payment requests, oldest first, each with its push attempts.
pub async fn payment_requests(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let requests = invoices::payment_requests(&state.db, &merchant.id, id.as_str()).await?;
    let url = format!("/v1/invoices/{}/payment_requests", id.as_str());
    let data = requests
        .iter()
        .map(|(r, attempts)| objects::PaymentRequestWithAttempts {
            request: objects::PaymentRequest::from(r),
            push_attempts: attempts.iter().map(objects::PushAttempt::from).collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(List::new(
        url,
        Page {
            data,
            has_more: false,
        },
    )))
}
