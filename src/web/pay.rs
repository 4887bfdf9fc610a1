//! The hosted pay page, `/pay/{token}`: the link in customer emails. Shows
//! the invoice (merchant, number, exact amount, period, status) and, while
//! it takes payment, the live BOLT11 as text, a `lightning:` link and a QR
//! code (inline SVG). The token is unguessable (`store::pay_links`); an
//! unknown or forged one gets a 404 page. No script, no external asset.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::billing::pay_page::{self, PayPage};
use crate::context::Context;
use crate::notify::email::render::{sat_amount, when};

/// The stylesheet, served at [`STYLESHEET_PATH`].
const STYLESHEET: &str = include_str!("../../static/css/pay.css");
pub const STYLESHEET_PATH: &str = "/static/css/pay.css";

#[derive(Template)]
#[template(path = "pay/invoice.html")]
struct InvoicePage {
    stylesheet: &'static str,
    merchant_name: String,
    number: String,
    description: Option<String>,
    amount: String,
    /// The customer's credit taken off `amount` and what is left to pay,
    /// when credit was applied.
    credit: Option<(String, String)>,
    period: Option<String>,
    /// The status word (`open`, `paid`...) and a sentence about it.
    status: String,
    status_text: String,
    due: String,
    bolt11: Option<String>,
    /// `lightning:` + the BOLT11.
    lightning_uri: String,
    /// The QR code of the `lightning:` URI as an `<svg>` element (made
    /// here, not from input markup).
    qr_svg: String,
    expires: String,
    preparing: bool,
    /// Offer the button that asks for a fresh BOLT11.
    can_refresh: bool,
    /// Where that button posts.
    refresh_url: String,
}

#[derive(Template)]
#[template(path = "pay/not_found.html")]
struct NotFoundPage {
    stylesheet: &'static str,
}

/// GET /pay/{token}
pub async fn page(state: web::Data<Context>, token: web::Path<String>) -> HttpResponse {
    match pay_page::load(&state.db, &state.clocks, token.as_str()).await {
        Ok(Some(p)) => html(StatusCode::OK, invoice_page(p, token.as_str()).render()),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "pay page: cannot load");
            unavailable()
        }
    }
}

/// POST /pay/{token}/refresh: the customer asks for a fresh BOLT11; back
/// to the page (303), which shows it once the node has issued it.
pub async fn refresh(state: web::Data<Context>, token: web::Path<String>) -> HttpResponse {
    match pay_page::request_fresh(&state.db, &state.clocks, token.as_str()).await {
        Ok(Some(())) => HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/pay/{}", token.as_str())))
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .finish(),
        Ok(None) => not_found(),
        Err(e) => {
            tracing::error!(error = %e, "pay page: cannot queue a payment request");
            unavailable()
        }
    }
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body("This page is unavailable right now; please try again in a minute.")
}

/// The 404 page.
fn not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        NotFoundPage {
            stylesheet: STYLESHEET_PATH,
        }
        .render(),
    )
}

/// GET /static/css/pay.css
pub async fn stylesheet() -> HttpResponse {
    super::browser::asset("text/css; charset=utf-8", STYLESHEET)
}

fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> HttpResponse {
    super::browser::private_page(status, rendered, "pay page")
}

fn invoice_page(p: PayPage, token: &str) -> InvoicePage {
    let inv = &p.invoice;
    let status_text = match inv.status.as_str() {
        "open" if p.live.is_some() => "Awaiting payment.".to_owned(),
        "open" if p.preparing => "Awaiting payment. A Lightning invoice is being prepared: reload this page in a moment.".to_owned(),
        "open" => "Awaiting payment. Its Lightning invoice has expired: ask for a new one below.".to_owned(),
        "paid" => match inv.paid_at {
            Some(at) => format!("Paid on {}. Thank you!", when(at)),
            None => "Paid. Thank you!".to_owned(),
        },
        "void" => "Void: this invoice was canceled and there is nothing to pay.".to_owned(),
        "uncollectible" if p.preparing => "Unpaid after its grace period; a payment is still accepted. A Lightning invoice is being prepared: reload this page in a moment.".to_owned(),
        "uncollectible" => "Unpaid after its grace period; a payment is still accepted.".to_owned(),
        "draft" => "Not final yet: nothing to pay for now.".to_owned(),
        other => other.to_owned(),
    };
    let bolt11 = p.live.as_ref().and_then(|r| r.bolt11.clone());
    let lightning_uri = bolt11
        .as_ref()
        .map(|b| format!("lightning:{b}"))
        .unwrap_or_default();
    let qr_svg = bolt11
        .as_deref()
        .map(super::qr::lightning)
        .unwrap_or_default();
    InvoicePage {
        stylesheet: STYLESHEET_PATH,
        merchant_name: p.merchant.name.clone(),
        number: inv.number.clone(),
        description: inv.description.clone(),
        amount: sat_amount(inv.amount_msat),
        credit: (inv.credit_applied_msat > 0).then(|| {
            (
                sat_amount(inv.credit_applied_msat),
                sat_amount(inv.amount_due_msat()),
            )
        }),
        period: match (inv.period_start, inv.period_end) {
            (Some(start), Some(end)) => Some(crate::domain::Period { start, end }.days()),
            _ => None,
        },
        status: inv.status.clone(),
        status_text,
        due: when(inv.due_at),
        expires: p
            .live
            .as_ref()
            .and_then(|r| r.expires_at)
            .map(when)
            .unwrap_or_default(),
        bolt11,
        lightning_uri,
        qr_svg,
        preparing: p.preparing,
        can_refresh: p.can_refresh(),
        refresh_url: format!("/pay/{token}/refresh"),
    }
}
