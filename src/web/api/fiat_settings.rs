//! /v1/settings/fiat: the rate the merchant's signup pages show each
//! price's fiat value at (`catalog::fiat`), as the dashboard's Fiat price
//! page sets it.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use crate::catalog::{self, fiat};
use crate::context::Context;
use crate::objects;

/// Retrieve the fiat price settings
#[utoipa::path(
    tag = "Settings",
    operation_id = "get_fiat_settings",
    responses((status = 200, description = "The merchant's rate, or nulls.", body = objects::Live<objects::FiatSettings>)),
)]
#[get("/settings/fiat")]
pub async fn get(state: web::Data<Context>, merchant: Merchant) -> Result<HttpResponse, ApiError> {
    let row = catalog::merchants::get(&state.db, &merchant.id).await?;
    let rate = fiat::Rate::of(&row);
    Ok(HttpResponse::Ok().json(merchant.live(objects::FiatSettings::from(rate.as_ref()))))
}

/// A rate, or `{"currency": null}` to show sat alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFiatSettings {
    /// An ISO 4217 code pushbill shows (`USD`, `EUR`, `JPY`, ...), or null.
    currency: Option<String>,
    /// The price of one bitcoin as a decimal string with at most the
    /// currency's decimals (`"97500.00"`); required with a currency.
    per_btc: Option<String>,
}

/// Set or clear the fiat price rate
///
/// Errors name `currency` or `per_btc`. The date it is set is shown with it.
#[utoipa::path(
    tag = "Settings",
    operation_id = "update_fiat_settings",
    request_body = UpdateFiatSettings,
    responses((status = 200, description = "The merchant's rate, or nulls.", body = objects::Live<objects::FiatSettings>)),
)]
#[post("/settings/fiat")]
pub async fn update(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<UpdateFiatSettings>,
) -> Result<HttpResponse, ApiError> {
    let per_btc = body.per_btc.as_deref();
    let rate = match (body.currency.as_deref(), per_btc) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(crate::error::Error::invalid("currency", "required with per_btc").into());
        }
        (Some(currency), per_btc) => Some((currency, per_btc.unwrap_or_default())),
    };
    let rate = fiat::set(&state.db, merchant.now, &merchant.id, rate).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::FiatSettings::from(rate.as_ref()))))
}
