//! The fiat value beside sat prices on the merchant's signup pages: the
//! rate the merchant sets, or none (`catalog::fiat`).

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::session::Signed;
use super::view::{self, FieldError, Shell};
use super::{PageError, PageResult, html};
use crate::catalog::{self, fiat};
use crate::context::Context;

#[derive(Template)]
#[template(path = "dashboard/fiat_settings.html")]
struct SettingsPage {
    shell: Shell,
    currencies: Vec<&'static str>,
    currency: String,
    per_btc: String,
    /// "1 BTC = 97,500.00 USD, set 2026-12-07 14:00 UTC", or empty.
    current: String,
    saved: bool,
    error: FieldError,
}

fn render(
    signed: &Signed,
    status: StatusCode,
    rate: Option<&fiat::Rate>,
    typed: Option<(String, String)>,
    saved: bool,
    error: FieldError,
) -> PageResult {
    let (currency, per_btc) = typed.unwrap_or_else(|| {
        rate.map_or(("USD".to_owned(), String::new()), |r| {
            (r.currency.to_owned(), r.per_btc_input())
        })
    });
    Ok(html(
        status,
        &SettingsPage {
            shell: Shell::new(signed, "fiat"),
            currencies: fiat::CURRENCIES.iter().map(|(c, _)| *c).collect(),
            currency,
            per_btc,
            current: rate.map_or_else(String::new, |r| {
                format!(
                    "1 BTC = {}, set {}",
                    r.per_btc(),
                    r.set_at.format("%Y-%m-%d %H:%M UTC")
                )
            }),
            saved,
            error,
        },
    ))
}

async fn current(state: &Context, signed: &Signed) -> Result<Option<fiat::Rate>, PageError> {
    let merchant = catalog::merchants::get(&state.db, signed.merchant_id()).await?;
    Ok(fiat::Rate::of(&merchant))
}

/// GET /dashboard/settings/fiat
pub async fn page(state: web::Data<Context>, signed: Signed) -> PageResult {
    let rate = current(&state, &signed).await?;
    render(
        &signed,
        StatusCode::OK,
        rate.as_ref(),
        None,
        false,
        FieldError::none(),
    )
}

#[derive(Debug, Deserialize)]
pub struct RateForm {
    #[serde(default)]
    currency: String,
    #[serde(default)]
    per_btc: String,
    /// "Show sat alone": clears the rate.
    #[serde(default)]
    clear: Option<String>,
}

/// POST /dashboard/settings/fiat: sets the rate, or clears it with `clear`.
pub async fn update(
    state: web::Data<Context>,
    signed: Signed,
    web::Form(form): web::Form<RateForm>,
) -> PageResult {
    let rate = form
        .clear
        .is_none()
        .then_some((form.currency.as_str(), form.per_btc.as_str()));
    match fiat::set(&state.db, signed.now, signed.merchant_id(), rate).await {
        Ok(rate) => render(
            &signed,
            StatusCode::OK,
            rate.as_ref(),
            None,
            true,
            FieldError::none(),
        ),
        Err(e) => {
            let error = view::field_error(e)?;
            let rate = current(&state, &signed).await?;
            render(
                &signed,
                StatusCode::BAD_REQUEST,
                rate.as_ref(),
                Some((form.currency, form.per_btc)),
                false,
                error,
            )
        }
    }
}
