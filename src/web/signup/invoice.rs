//! "Pay each invoice myself", after the form: the first invoice's BOLT11
//! with its QR and a live status (`GET /s/{link}/invoices/{token}`, the
//! token being the invoice's pay-page token), polled by the page's script
//! (`.../status`) until paid, then the confirmation.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;

use super::plan::PlanView;
use super::{PageError, PageResult, Shell, html, load, status_json};
use crate::billing::pay_page::PayPage;
use crate::billing::signup;
use crate::context::Context;
use crate::domain::InvoiceStatus;
use crate::notify::email::render::{sat_amount, when};

/// "paid", "payable" (a BOLT11 is live), "preparing" (the node is issuing
/// one), "expired" (none is live: the pay page makes a new one), or the
/// invoice's status (void, uncollectible, ...).
fn state_of(p: &PayPage) -> &'static str {
    match InvoiceStatus::parse(&p.invoice.status) {
        Ok(InvoiceStatus::Paid) => "paid",
        Ok(InvoiceStatus::Open | InvoiceStatus::Uncollectible) if p.live.is_some() => "payable",
        Ok(InvoiceStatus::Open | InvoiceStatus::Uncollectible) if p.preparing => "preparing",
        Ok(InvoiceStatus::Open | InvoiceStatus::Uncollectible) => "expired",
        Ok(InvoiceStatus::Void) => "void",
        _ => "other",
    }
}

#[derive(Template)]
#[template(path = "signup/invoice.html")]
struct InvoicePage {
    shell: Shell,
    plan: PlanView,
    number: String,
    amount: String,
    state: &'static str,
    bolt11: String,
    lightning_uri: String,
    qr_svg: String,
    expires: String,
    paid_at: String,
    /// The invoice's pay page (a fresh BOLT11 when this one expired; the
    /// same page the emails link to).
    pay_url: String,
    status_url: String,
}

async fn find(
    state: &Context,
    link: &str,
    token: &str,
) -> Result<(signup::Page, PayPage), PageError> {
    let page = load(state, link).await?;
    let p = signup::invoice(&state.db, &state.clocks, &page, token)
        .await?
        .ok_or(PageError::NotFound)?;
    Ok((page, p))
}

/// GET /s/{link}/invoices/{token}
pub async fn page(state: web::Data<Context>, path: web::Path<(String, String)>) -> PageResult {
    let (link, token) = path.into_inner();
    let (page, p) = find(&state, &link, &token).await?;
    let st = state_of(&p);
    let bolt11 = p
        .live
        .as_ref()
        .and_then(|r| r.bolt11.clone())
        .unwrap_or_default();
    let waiting = matches!(st, "payable" | "preparing" | "expired");
    Ok(html(
        StatusCode::OK,
        &InvoicePage {
            shell: Shell::new(&state, &page),
            plan: PlanView::new(&page),
            number: p.invoice.number.clone(),
            amount: sat_amount(p.invoice.amount_due_msat()),
            state: st,
            lightning_uri: if bolt11.is_empty() {
                String::new()
            } else {
                format!("lightning:{bolt11}")
            },
            qr_svg: if bolt11.is_empty() {
                String::new()
            } else {
                crate::web::qr::lightning(&bolt11)
            },
            bolt11,
            expires: p
                .live
                .as_ref()
                .and_then(|r| r.expires_at)
                .map(when)
                .unwrap_or_default(),
            paid_at: p.invoice.paid_at.map(when).unwrap_or_default(),
            pay_url: format!("/pay/{token}"),
            status_url: if waiting {
                format!("/s/{link}/invoices/{token}/status")
            } else {
                String::new()
            },
        },
    ))
}

/// GET /s/{link}/invoices/{token}/status: `{"state": ...}` (see [`state_of`]).
pub async fn status(state: web::Data<Context>, path: web::Path<(String, String)>) -> PageResult {
    let (link, token) = path.into_inner();
    let (_, p) = find(&state, &link, &token).await?;
    Ok(status_json(state_of(&p)))
}
