//! "Auto-pay from my node": `POST /s/{link}/codes` makes a subscribe code
//! (short-lived, throttled), `GET /s/{link}/codes/{code}` shows it with its
//! QR and the payer's command, and `GET .../status` is what the page's
//! script polls until the handshake is done and the first invoice paid.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;

use super::plan::PlanView;
use super::{PageError, PageResult, Shell, html, load, see_other, status_json};
use crate::billing::signup::{self, CodeState};
use crate::context::Context;
use crate::notify::email::render::when;

/// POST /s/{link}/codes
pub async fn create(
    state: web::Data<Context>,
    req: HttpRequest,
    link: web::Path<String>,
) -> PageResult {
    let page = load(&state, &link).await?;
    let address = crate::web::browser::client_address(&req);
    match signup::create_code(
        &state.db,
        &state.clocks,
        &state.settings.signup,
        &page,
        &address,
    )
    .await?
    {
        Ok(code) => Ok(see_other(&format!("/s/{}/codes/{code}", link.as_str()))),
        Err(throttled) => Err(PageError::Throttled(throttled)),
    }
}

#[derive(Template)]
#[template(path = "signup/code.html")]
struct CodePage {
    shell: Shell,
    plan: PlanView,
    code: String,
    /// `pushbill payer subscribe CODE`.
    command: String,
    /// The code's QR (an `<svg>` element made here).
    qr_svg: String,
    expires: String,
    state: &'static str,
    /// What the script polls, while there is something to wait for.
    status_url: String,
    subscription_id: String,
}

/// GET /s/{link}/codes/{code}
pub async fn page(state: web::Data<Context>, path: web::Path<(String, String)>) -> PageResult {
    let (link, code) = path.into_inner();
    let page = load(&state, &link).await?;
    let view = signup::code(&state.db, &state.clocks, &page, &code)
        .await?
        .ok_or(PageError::NotFound)?;
    let waiting = matches!(view.state, CodeState::Waiting | CodeState::Subscribed);
    Ok(html(
        StatusCode::OK,
        &CodePage {
            shell: Shell::new(&state, &page),
            plan: PlanView::new(&page),
            command: format!("pushbill payer subscribe {}", view.full),
            qr_svg: crate::web::qr::svg(&view.full),
            code: view.full,
            expires: when(view.expires_at),
            state: view.state.as_str(),
            status_url: if waiting {
                format!("/s/{link}/codes/{code}/status")
            } else {
                String::new()
            },
            subscription_id: view.subscription.map(|s| s.id).unwrap_or_default(),
        },
    ))
}

/// GET /s/{link}/codes/{code}/status: `{"state": "waiting" | "subscribed" |
/// "done" | "expired"}`.
pub async fn status(state: web::Data<Context>, path: web::Path<(String, String)>) -> PageResult {
    let (link, code) = path.into_inner();
    let page = load(&state, &link).await?;
    let view = signup::code(&state.db, &state.clocks, &page, &code)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok(status_json(view.state.as_str()))
}
