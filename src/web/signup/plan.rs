//! The plan's page (`GET /s/{link}`), the "pay each invoice myself" form
//! (`POST /s/{link}/subscribe`) and the confirmation of a signup that
//! starts with a trial (`GET /s/{link}/welcome`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{PageError, PageResult, Shell, csrf, html, load, see_other};
use crate::billing::payment_methods::WalletCheck;
use crate::billing::signup::{self, ManualSignup, Page};
use crate::catalog::fiat;
use crate::context::Context;
use crate::error::Error;
use crate::notify::email::render::sat_amount;
use crate::web::dashboard::{FieldError, display, schedule_text};

/// The plan as its page shows it.
pub struct PlanView {
    pub name: String,
    pub description: String,
    /// "1000 sat every month" (exact, from msat).
    pub price: String,
    /// "about 9.75 USD (1 BTC = 97,500.00 USD on 2026-12-07)", or empty
    /// when the merchant set no rate (`catalog::fiat`).
    pub fiat: String,
    /// "14 days free", or empty for no trial.
    pub trial: String,
}

impl PlanView {
    pub fn new(page: &Page) -> Self {
        let p = &page.plan;
        let days = p.trial_period_secs / 86_400;
        Self {
            name: display(&p.name),
            description: p.description.as_deref().map(display).unwrap_or_default(),
            price: format!("{} {}", sat_amount(p.amount_msat), schedule_text(p)),
            fiat: fiat::Rate::of(&page.merchant).map_or_else(String::new, |rate| {
                format!(
                    "about {} (1 BTC = {} on {})",
                    rate.value(p.amount_msat),
                    rate.per_btc(),
                    rate.set_at.format("%Y-%m-%d")
                )
            }),
            trial: match days {
                0 => String::new(),
                1 => "1 day free".to_owned(),
                d => format!("{d} days free"),
            },
        }
    }
}

#[derive(Template)]
#[template(path = "signup/plan.html")]
struct PlanPage {
    shell: Shell,
    plan: PlanView,
    csrf: String,
    email: String,
    name: String,
    error: FieldError,
    /// The form the fields and errors belong to: `manual` or `wallet`.
    way: &'static str,
}

fn render(
    state: &Context,
    req: &HttpRequest,
    page: &Page,
    status: StatusCode,
    (form, way): (&ManualSignup, &'static str),
    error: FieldError,
) -> HttpResponse {
    let (csrf, cookie) = csrf::token(state, req);
    let mut res = html(
        status,
        &PlanPage {
            shell: Shell::new(state, page),
            plan: PlanView::new(page),
            csrf,
            email: form.email.clone(),
            name: form.name.clone(),
            error,
            way,
        },
    );
    if let Some(cookie) = cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// GET /s/{link}
pub async fn page(
    state: web::Data<Context>,
    req: HttpRequest,
    link: web::Path<String>,
) -> PageResult {
    let page = load(&state, &link).await?;
    Ok(render(
        &state,
        &req,
        &page,
        StatusCode::OK,
        (&ManualSignup::default(), "manual"),
        FieldError::none(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct SubscribeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
}

/// POST /s/{link}/subscribe: the customer, the subscription and its first
/// invoice; then that invoice's page (or the welcome page after a trial
/// start). A bad field is shown at the field (400).
pub async fn subscribe(
    state: web::Data<Context>,
    req: HttpRequest,
    link: web::Path<String>,
    web::Form(form): web::Form<SubscribeForm>,
) -> PageResult {
    let page = load(&state, &link).await?;
    let form = ManualSignup {
        email: form.email,
        name: form.name,
    };
    let address = crate::web::browser::client_address(&req);
    let made = signup::subscribe_manual(
        &state.db,
        &state.clocks,
        &state.settings.signup,
        &page,
        &address,
        &form,
    )
    .await;
    answer(&state, &req, &link, &page, (form, "manual"), made)
}

/// Not `Debug`: it holds the connection secret.
#[derive(Deserialize)]
pub struct WalletSubscribeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    nwc_uri: String,
}

/// POST /s/{link}/subscribe_wallet: as [`subscribe`], paid by the
/// subscriber's wallet over Nostr Wallet Connect (the URI is checked with
/// the wallet first; it is never shown again, not even on an error).
pub async fn subscribe_wallet(
    state: web::Data<Context>,
    req: HttpRequest,
    link: web::Path<String>,
    web::Form(form): web::Form<WalletSubscribeForm>,
) -> PageResult {
    let page = load(&state, &link).await?;
    let fields = ManualSignup {
        email: form.email,
        name: form.name,
    };
    let address = crate::web::browser::client_address(&req);
    let made = signup::subscribe_with_wallet(
        &state.db,
        &state.clocks,
        &state.settings.signup,
        &WalletCheck::of(&state),
        &page,
        &address,
        &fields,
        form.nwc_uri,
    )
    .await;
    answer(&state, &req, &link, &page, (fields, "wallet"), made)
}

/// Where a signup form's POST lands: the first invoice's page (or the
/// welcome page after a trial start), or the form again with the error at
/// its field (400).
fn answer(
    state: &Context,
    req: &HttpRequest,
    link: &str,
    page: &Page,
    (form, way): (ManualSignup, &'static str),
    made: crate::error::Result<Result<signup::Signed, signup::Throttled>>,
) -> PageResult {
    match made {
        Ok(Ok(signed)) => {
            tracing::info!(subscription = %signed.subscription.id, "signup page: subscribed");
            Ok(match signed.invoice_token {
                Some(token) => see_other(&format!("/s/{link}/invoices/{token}")),
                None => see_other(&format!("/s/{link}/welcome")),
            })
        }
        Ok(Err(throttled)) => Err(PageError::Throttled(throttled)),
        Err(e) => {
            let error = match e {
                Error::Invalid { param, message } => FieldError {
                    field: param,
                    message,
                },
                other => return Err(other.into()),
            };
            // The form is shown again as typed, minus what cannot be shown.
            let clean = |s: &str| s.replace('\0', "").chars().take(400).collect::<String>();
            let typed = ManualSignup {
                email: clean(&form.email),
                name: clean(&form.name),
            };
            Ok(render(
                state,
                req,
                page,
                StatusCode::BAD_REQUEST,
                (&typed, way),
                error,
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "signup/welcome.html")]
struct WelcomePage {
    shell: Shell,
    plan: PlanView,
}

/// GET /s/{link}/welcome: a signup that starts with a free trial.
pub async fn welcome(state: web::Data<Context>, link: web::Path<String>) -> PageResult {
    let page = load(&state, &link).await?;
    Ok(html(
        StatusCode::OK,
        &WelcomePage {
            shell: Shell::new(&state, &page),
            plan: PlanView::new(&page),
        },
    ))
}
