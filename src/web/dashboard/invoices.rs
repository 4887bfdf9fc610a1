//! Invoices: a list filtered by status, an invoice's page with its payment
//! requests and push attempts; void and ask again (re-push), through
//! `billing::lifecycle` as the API's void.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::rows::{Entry, InvoiceRow, timeline};
use super::session::Signed;
use super::view::{self, Cursors, Pager, Shell, display_opt, sat_amount};
use super::{PageResult, html, see_other};
use crate::billing::lifecycle;
use crate::catalog::{self, invoices::Filter};
use crate::context::Context;
use crate::domain::InvoiceId;

#[derive(Template)]
#[template(path = "dashboard/invoices.html")]
struct ListPage {
    shell: Shell,
    invoices: Vec<InvoiceRow>,
    status: String,
    pager: Pager,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(flatten)]
    cursors: Cursors,
}

/// GET /dashboard/invoices?status=
pub async fn list(
    state: web::Data<Context>,
    signed: Signed,
    web::Query(q): web::Query<ListQuery>,
) -> PageResult {
    let status = q.status.clone().filter(|s| !s.is_empty());
    let page = catalog::invoices::list(
        &state.db,
        signed.merchant_id(),
        Filter {
            status: status.clone(),
            ..Default::default()
        },
        &q.cursors.params(InvoiceId::PREFIX)?,
    )
    .await?;
    let path = match &status {
        Some(s) => format!("/dashboard/invoices?status={}", view::query_value(s)),
        None => "/dashboard/invoices".to_owned(),
    };
    let ids: Vec<&str> = page.data.iter().map(|i| i.id.as_str()).collect();
    let pager = Pager::new(&path, &q.cursors, &ids, page.has_more);
    Ok(html(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&signed, "invoices"),
            invoices: page.data.iter().map(InvoiceRow::from).collect(),
            status: status.unwrap_or_default(),
            pager,
        },
    ))
}

#[derive(Template)]
#[template(path = "dashboard/invoice.html")]
struct InvoicePage {
    shell: Shell,
    invoice: InvoiceRow,
    customer_id: String,
    subscription_id: Option<String>,
    description: String,
    credit: String,
    can_void: bool,
    timeline: Vec<Entry>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

/// GET /dashboard/invoices/{id}
pub async fn page(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Query(q): web::Query<PageQuery>,
) -> PageResult {
    let merchant = signed.merchant_id();
    let invoice = catalog::invoices::get(&state.db, merchant, &id).await?;
    let timeline = timeline(&state, merchant, std::slice::from_ref(&invoice), Vec::new()).await?;
    let notice = match q.done.as_deref() {
        Some("void") => Some("Invoice voided: it can no longer be paid."),
        Some("push") => {
            Some("Asked for payment again: the customer's node gets the invoice once more.")
        }
        _ => None,
    };
    Ok(html(
        StatusCode::OK,
        &InvoicePage {
            shell: Shell::new(&signed, "invoices"),
            customer_id: invoice.customer_id.clone(),
            subscription_id: invoice.subscription_id.clone(),
            description: display_opt(invoice.description.as_deref()),
            credit: sat_amount(invoice.credit_applied_msat),
            can_void: matches!(invoice.status.as_str(), "open" | "uncollectible"),
            invoice: InvoiceRow::from(&invoice),
            timeline,
            notice,
        },
    ))
}

/// POST /dashboard/invoices/{id}/void
pub async fn void(state: web::Data<Context>, signed: Signed, id: web::Path<String>) -> PageResult {
    let invoice = lifecycle::void(&state.db, signed.now, signed.merchant_id(), &id).await?;
    Ok(see_other(&format!(
        "/dashboard/invoices/{}?done=void",
        invoice.id
    )))
}

/// POST /dashboard/invoices/{id}/push: ask for payment again.
pub async fn push_again(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    let invoice = lifecycle::push_again(&state.db, signed.now, signed.merchant_id(), &id).await?;
    Ok(see_other(&format!(
        "/dashboard/invoices/{}?done=push",
        invoice.id
    )))
}
