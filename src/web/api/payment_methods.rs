//! /v1/subscriptions/{id}/payment_method: how a subscription's invoices are
//! paid (`billing::payment_methods`), as the customer portal sets it too.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use crate::billing::payment_methods::{self, NewMethod, Owner, WalletCheck, WithMethod};
use crate::context::Context;
use crate::objects;

fn ok(merchant: &Merchant, found: &WithMethod) -> HttpResponse {
    HttpResponse::Ok().json(merchant.live(objects::PaymentMethod::new(
        &found.subscription,
        found.wallet.as_ref(),
    )))
}

/// Retrieve a subscription's payment method
///
/// With the wallet connection for `nwc` (never its secret).
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "get_payment_method",
    params(("id" = String, Path, description = "The subscription's id (`sub_...`).")),
    responses((status = 200, description = "The payment method.", body = objects::Live<objects::PaymentMethod>)),
)]
#[get("/subscriptions/{id}/payment_method")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let found = payment_methods::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(ok(&merchant, &found))
}

/// A payment method (not `Debug`: it may hold the connection secret).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPaymentMethod {
    /// `push`, `nwc` or `manual`.
    method: String,
    /// For `nwc`: the subscriber's `nostr+walletconnect://` URI. pushbill
    /// asks the wallet `get_info` first (it must offer `pay_invoice`), then
    /// keeps the URI sealed; it is never returned.
    nwc_uri: Option<String>,
}

/// Set a subscription's payment method
///
/// Connecting a wallet (`nwc`) asks it `get_info` first: a URI that does
/// not parse, a wallet that does not answer, cannot `pay_invoice` or is on
/// another network is refused (400 naming `nwc_uri`). Any other method
/// removes the wallet connection and erases its secret. Open invoices are
/// then asked for by the new method at once.
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "set_payment_method",
    params(("id" = String, Path, description = "The subscription's id (`sub_...`).")),
    request_body = SetPaymentMethod,
    responses((status = 200, description = "The payment method.", body = objects::Live<objects::PaymentMethod>)),
)]
#[post("/subscriptions/{id}/payment_method")]
pub async fn set(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<SetPaymentMethod>,
) -> Result<HttpResponse, ApiError> {
    let method = NewMethod::parse(&body.method, body.nwc_uri)?;
    let owner = Owner {
        merchant_id: &merchant.id,
        customer_id: None,
    };
    let found = payment_methods::set(
        &state.db,
        &WalletCheck::of(&state),
        merchant.now,
        owner,
        id.as_str(),
        method,
    )
    .await?;
    Ok(ok(&merchant, &found))
}
