//! Customers: a searchable, paginated list and a customer's page with
//! their subscriptions and invoices.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::rows::{InvoiceRow, SubscriptionRow};
use super::session::Signed;
use super::view::{self, Cursors, Pager, Shell, display_opt, sat_amount, when};
use super::{PageResult, html};
use crate::catalog::{self, customers};
use crate::context::Context;
use crate::domain::CustomerId;
use crate::store::customers as customer_rows;
use crate::store::page::PageParams;

pub struct CustomerRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub node: String,
    pub created: String,
}

impl From<&customer_rows::Model> for CustomerRow {
    fn from(c: &customer_rows::Model) -> Self {
        Self {
            id: c.id.clone(),
            email: display_opt(c.email.as_deref()),
            name: display_opt(c.name.as_deref()),
            node: c
                .node_id
                .as_deref()
                .map(|n| format!("{}…", &n[..n.len().min(16)]))
                .unwrap_or_default(),
            created: when(c.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/customers.html")]
struct ListPage {
    shell: Shell,
    customers: Vec<CustomerRow>,
    q: String,
    pager: Pager,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    q: Option<String>,
    #[serde(flatten)]
    cursors: Cursors,
}

/// GET /dashboard/customers?q=
pub async fn list(
    state: web::Data<Context>,
    signed: Signed,
    web::Query(query): web::Query<ListQuery>,
) -> PageResult {
    let params = query.cursors.params(CustomerId::PREFIX)?;
    let q = query.q.clone().unwrap_or_default();
    let page = if q.trim().is_empty() {
        customers::list(&state.db, signed.merchant_id(), &params).await?
    } else {
        customers::search(&state.db, signed.merchant_id(), &q, &params).await?
    };
    let ids: Vec<&str> = page.data.iter().map(|c| c.id.as_str()).collect();
    let path = if q.trim().is_empty() {
        "/dashboard/customers".to_owned()
    } else {
        format!("/dashboard/customers?q={}", view::query_value(&q))
    };
    let pager = Pager::new(&path, &query.cursors, &ids, page.has_more);
    Ok(html(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&signed, "customers"),
            customers: page.data.iter().map(CustomerRow::from).collect(),
            q,
            pager,
        },
    ))
}

#[derive(Template)]
#[template(path = "dashboard/customer.html")]
struct CustomerPage {
    shell: Shell,
    customer: CustomerRow,
    external_id: String,
    node_id: String,
    balance: String,
    subscriptions: Vec<SubscriptionRow>,
    invoices: Vec<InvoiceRow>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    portal_link: Option<String>,
}

/// GET /dashboard/customers/{id}
pub async fn page(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Query(q): web::Query<PageQuery>,
) -> PageResult {
    let merchant = signed.merchant_id();
    let customer = customers::get(&state.db, merchant, &id).await?;
    let recent = PageParams {
        limit: 25,
        cursor: None,
    };
    let subs = catalog::subscriptions::list(
        &state.db,
        merchant,
        catalog::subscriptions::Filter {
            customer: Some(customer.id.clone()),
            ..Default::default()
        },
        &recent,
    )
    .await?;
    let invoices = catalog::invoices::list(
        &state.db,
        merchant,
        catalog::invoices::Filter {
            customer: Some(customer.id.clone()),
            ..Default::default()
        },
        &recent,
    )
    .await?;
    let subscriptions = super::rows::rows(&state, merchant, subs.data).await?;
    Ok(html(
        StatusCode::OK,
        &CustomerPage {
            shell: Shell::new(&signed, "customers"),
            external_id: display_opt(customer.external_id.as_deref()),
            node_id: customer.node_id.clone().unwrap_or_default(),
            balance: sat_amount(customer.balance_msat),
            customer: CustomerRow::from(&customer),
            subscriptions,
            invoices: invoices.data.iter().map(InvoiceRow::from).collect(),
            notice: q.portal_link.is_some().then_some(
                "A sign-in link to the customer portal was emailed to the customer. It works once, for 15 minutes.",
            ),
        },
    ))
}

/// POST /dashboard/customers/{id}/portal_link: emails the customer a
/// sign-in link to the customer portal (never shown here).
pub async fn email_portal_link(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    let customer = catalog::portal::email_to_customer(&state, signed.merchant_id(), &id).await?;
    Ok(super::see_other(&format!(
        "/dashboard/customers/{}?portal_link=sent",
        customer.id
    )))
}
