//! /v1/invoices

use actix_web::{HttpResponse, get, post, web};
use chrono::Duration;
use serde::Deserialize;
use utoipa::ToSchema;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use super::subscriptions::Empty;
use crate::billing::{invoicing, lifecycle};
use crate::catalog::invoices::{self, Filter};
use crate::context::Context;
use crate::domain::{InvoiceId, Msat};
use crate::objects;

/// A one-off invoice is due a day after it is created unless told otherwise.
const DEFAULT_DUE_IN_SECS: u32 = 86_400;

fn ok(merchant: &Merchant, invoice: &crate::store::invoices::Model) -> HttpResponse {
    HttpResponse::Ok().json(merchant.live(objects::Invoice::from(invoice)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInvoice {
    /// The customer's id (`cus_...`).
    customer: String,
    /// In millisatoshis, more than 0 and at most 1844674407370955161 (the most
    /// one Lightning invoice can carry).
    #[schema(value_type = u64, maximum = 1_844_674_407_370_955_161_u64)]
    amount_msat: Msat,
    /// At most 500 characters.
    description: Option<String>,
    /// Seconds until it is due: a day by default.
    due_in_secs: Option<u32>,
}

/// Create a one-off invoice
///
/// Its payment request is pushed to the customer's node when the customer has one.
#[utoipa::path(
    tag = "Invoices",
    operation_id = "create_invoice",
    request_body = CreateInvoice,
    responses((status = 200, description = "The new invoice.", body = objects::Live<objects::Invoice>)),
)]
#[post("/invoices")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateInvoice>,
) -> Result<HttpResponse, ApiError> {
    let due_in = Duration::seconds(body.due_in_secs.unwrap_or(DEFAULT_DUE_IN_SECS).into());
    let invoice = invoicing::create_one_off(
        &state.db,
        merchant.now,
        &merchant.id,
        &body.customer,
        body.amount_msat,
        body.description,
        due_in,
    )
    .await?;
    Ok(ok(&merchant, &invoice))
}

/// Retrieve an invoice
#[utoipa::path(
    tag = "Invoices",
    operation_id = "get_invoice",
    params(("id" = String, Path, description = "The invoice's id (`inv_...`).")),
    responses((status = 200, description = "The invoice.", body = objects::Live<objects::Invoice>)),
)]
#[get("/invoices/{id}")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        &merchant,
        &invoices::get(&state.db, &merchant.id, id.as_str()).await?,
    ))
}

list_query!(ListInvoices {
    /// draft, open, paid, void or uncollectible.
    status: Option<String>,
    /// Only this customer's invoices (`cus_...`).
    customer: Option<String>,
    /// Only this subscription's invoices (`sub_...`).
    subscription: Option<String>,
});

/// List invoices
#[utoipa::path(
    tag = "Invoices",
    operation_id = "list_invoices",
    params(ListInvoices),
    responses((status = 200, description = "A page of invoices.", body = List<objects::Live<objects::Invoice>>)),
)]
#[get("/invoices")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListInvoices>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(InvoiceId::PREFIX)?;
    let filter = Filter {
        status: q.status,
        customer: q.customer,
        subscription: q.subscription,
    };
    let page = invoices::list(&state.db, &merchant.id, filter, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/invoices",
        page.map(|i| merchant.live(objects::Invoice::from(&i))),
    )))
}

/// Void an invoice
///
/// Only an open or uncollectible invoice can be voided (409 `invoice_not_voidable` otherwise).
#[utoipa::path(
    tag = "Invoices",
    operation_id = "void_invoice",
    params(("id" = String, Path, description = "The invoice's id (`inv_...`).")),
    request_body(content = Empty, description = "No fields: `{}` or no body."),
    responses((status = 200, description = "The voided invoice.", body = objects::Live<objects::Invoice>)),
)]
#[post("/invoices/{id}/void")]
pub async fn void(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let invoice = lifecycle::void(&state.db, merchant.now, &merchant.id, id.as_str()).await?;
    Ok(ok(&merchant, &invoice))
}

/// List an invoice's payment requests
///
/// BOLT11 payment requests, oldest first, each with its push attempts to the customer's node.
#[utoipa::path(
    tag = "Invoices",
    operation_id = "list_payment_requests",
    params(("id" = String, Path, description = "The invoice's id (`inv_...`).")),
    responses((status = 200, description = "The invoice's payment requests.", body = List<objects::Live<objects::PaymentRequestWithAttempts>>)),
)]
#[get("/invoices/{id}/payment_requests")]
pub async fn payment_requests(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let requests = invoices::payment_requests(&state.db, &merchant.id, id.as_str()).await?;
    let url = format!("/v1/invoices/{}/payment_requests", id.as_str());
    let data = requests
        .iter()
        .map(|(r, attempts)| {
            merchant.live(objects::PaymentRequestWithAttempts {
                request: objects::PaymentRequest::from(r),
                push_attempts: attempts.iter().map(objects::PushAttempt::from).collect(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(List::whole(url, data)))
}
