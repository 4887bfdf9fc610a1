//! The signed-in customer's page: subscriptions (cancel at period end),
//! invoices (pay an open one on its pay page), their email (update it).

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::session::Customer;
use super::{PortalResult, Styles, html, see_other};
use crate::billing::payment_methods::{self, NewMethod, Owner, WalletCheck};
use crate::billing::portal::{self, CustomerView};
use crate::catalog::customers;
use crate::context::Context;
use crate::domain::PaymentMethod;
use crate::domain::text::display;
use crate::error::Error;
use crate::notify::email::render::{sat_amount, when};
use crate::store::{invoices, plans, subscriptions, wallet_connections};

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    styles: Styles,
    csrf: String,
    merchant_name: String,
    customer_name: String,
    email: String,
    /// The message at the email field.
    email_error: Option<String>,
    /// What the last action did, one sentence.
    notice: Option<String>,
    subscriptions: Vec<SubscriptionRow>,
    invoices: Vec<InvoiceRow>,
}

struct SubscriptionRow {
    id: String,
    plan: String,
    price: String,
    status: String,
    period: String,
    next_invoice: String,
    ends_at_period_end: bool,
    can_cancel: bool,
    /// How it is paid, in words.
    payment: String,
    /// It is paid by a connected wallet.
    wallet: bool,
    can_change_payment: bool,
}

struct InvoiceRow {
    id: String,
    number: String,
    amount: String,
    status: String,
    due: String,
    payable: bool,
}

/// "every month", "every 3 weeks", "on the schedule 0 0 9 * * Mon" (as the
/// dashboard words a plan's schedule).
fn per_period(p: &plans::Model) -> String {
    match (p.interval_unit.as_str(), p.cron_expression.as_deref()) {
        ("cron", Some(expr)) => format!("on the schedule {expr}"),
        (unit, _) if p.interval_count == 1 => format!("every {unit}"),
        (unit, _) => format!("every {} {unit}s", p.interval_count),
    }
}

/// How the subscription is paid, as the customer reads it.
fn payment_words(
    sub: &subscriptions::Model,
    wallet: Option<&wallet_connections::Model>,
    customer_node: bool,
) -> String {
    match (PaymentMethod::parse(&sub.payment_method), wallet) {
        (Ok(PaymentMethod::Nwc), Some(w)) => {
            let name = match &w.wallet_alias {
                Some(alias) => format!("Your wallet ({})", display(alias)),
                None => "Your wallet".to_owned(),
            };
            match crate::web::browser::wallet_budget(w) {
                Some(budget) => format!("{name}, automatically, within a budget of {budget}"),
                None => format!("{name}, automatically"),
            }
        }
        (Ok(PaymentMethod::Push), _) if customer_node => "Your node, automatically".to_owned(),
        _ => "By email and the pay page".to_owned(),
    }
}

fn subscription_row(
    sub: &subscriptions::Model,
    plan: Option<&plans::Model>,
    wallet: Option<&wallet_connections::Model>,
    customer_node: bool,
) -> SubscriptionRow {
    let next_invoice = match sub.status.as_str() {
        "canceled" => "—".to_owned(),
        "paused" => "none while paused".to_owned(),
        _ if sub.cancel_at_period_end => {
            format!("none: ends on {}", when(sub.current_period_end))
        }
        "unpaid" => "none until the open invoice is paid".to_owned(),
        _ => when(sub.current_period_end),
    };
    SubscriptionRow {
        id: sub.id.clone(),
        plan: plan.map(|p| display(&p.name)).unwrap_or_default(),
        price: plan
            .map(|p| format!("{} {}", sat_amount(p.amount_msat), per_period(p)))
            .unwrap_or_default(),
        status: sub.status.clone(),
        period: format!(
            "{} to {}",
            when(sub.current_period_start),
            when(sub.current_period_end)
        ),
        next_invoice,
        ends_at_period_end: sub.cancel_at_period_end && sub.status != "canceled",
        can_cancel: portal::can_cancel_at_period_end(sub),
        payment: payment_words(sub, wallet, customer_node),
        wallet: wallet.is_some(),
        can_change_payment: portal::can_change_payment_method(sub),
    }
}

fn invoice_row(inv: &invoices::Model) -> InvoiceRow {
    InvoiceRow {
        id: inv.id.clone(),
        number: inv.number.clone(),
        amount: sat_amount(inv.amount_msat),
        status: inv.status.clone(),
        due: when(inv.due_at),
        payable: portal::payable(inv),
    }
}

fn home_page(
    state: &Context,
    customer: &Customer,
    view: CustomerView,
    email: String,
    email_error: Option<String>,
    notice: Option<String>,
) -> HomePage {
    let c = &customer.session.customer;
    HomePage {
        styles: Styles::new(state),
        csrf: customer.csrf.clone(),
        merchant_name: display(&customer.session.merchant.name),
        customer_name: display(c.name.as_deref().or(c.email.as_deref()).unwrap_or(&c.id)),
        email,
        email_error,
        notice,
        subscriptions: view
            .subscriptions
            .iter()
            .map(|(s, p)| {
                subscription_row(s, p.as_ref(), view.wallets.get(&s.id), c.node_id.is_some())
            })
            .collect(),
        invoices: view.invoices.iter().map(invoice_row).collect(),
    }
}

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    done: Option<String>,
}

/// GET /portal
pub async fn page(
    state: web::Data<Context>,
    customer: Customer,
    web::Query(q): web::Query<HomeQuery>,
) -> PortalResult {
    let view = portal::view(&state.db, customer.merchant_id(), customer.customer_id()).await?;
    let notice = match q.done.as_deref() {
        Some("canceled") => Some(
            "Done: the subscription ends at the end of its current period; you will not be billed again for it.".to_owned(),
        ),
        Some("email") => Some("Done: your email address is updated.".to_owned()),
        Some("wallet") => Some(
            "Done: your wallet is connected. It is asked to pay each invoice of the subscription, within the budget you gave the connection.".to_owned(),
        ),
        Some("wallet_removed") => Some(
            "Done: the wallet is disconnected and pushbill no longer holds its connection.".to_owned(),
        ),
        _ => None,
    };
    let email = display(customer.session.customer.email.as_deref().unwrap_or(""));
    Ok(html(
        StatusCode::OK,
        &home_page(&state, &customer, view, email, None, notice),
    ))
}

/// POST /portal/subscriptions/{id}/cancel: cancel at period end.
pub async fn cancel_at_period_end(
    state: web::Data<Context>,
    customer: Customer,
    id: web::Path<String>,
) -> PortalResult {
    portal::cancel_at_period_end(
        &state.db,
        customer.now,
        customer.merchant_id(),
        customer.customer_id(),
        &id,
    )
    .await?;
    Ok(see_other("/portal?done=canceled"))
}

/// Not `Debug`: it holds the connection secret.
#[derive(Deserialize)]
pub struct WalletForm {
    #[serde(default)]
    nwc_uri: String,
}

/// POST /portal/subscriptions/{id}/wallet: connect a wallet (NIP-47).
pub async fn connect_wallet(
    state: web::Data<Context>,
    customer: Customer,
    id: web::Path<String>,
    web::Form(form): web::Form<WalletForm>,
) -> PortalResult {
    let method = NewMethod::parse("nwc", Some(form.nwc_uri))?;
    set_method(&state, &customer, &id, method).await?;
    Ok(see_other("/portal?done=wallet"))
}

/// POST /portal/subscriptions/{id}/wallet/remove: back to the pay page
/// (or the customer's node), the connection's secret erased.
pub async fn remove_wallet(
    state: web::Data<Context>,
    customer: Customer,
    id: web::Path<String>,
) -> PortalResult {
    set_method(&state, &customer, &id, NewMethod::Push).await?;
    Ok(see_other("/portal?done=wallet_removed"))
}

async fn set_method(
    state: &Context,
    customer: &Customer,
    id: &str,
    method: NewMethod,
) -> Result<(), Error> {
    let owner = Owner {
        merchant_id: customer.merchant_id(),
        customer_id: Some(customer.customer_id()),
    };
    payment_methods::set(
        &state.db,
        &WalletCheck::of(state),
        customer.now,
        owner,
        id,
        method,
    )
    .await
    .map(drop)
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

/// POST /portal/email: bad input gets a message at the field (400).
pub async fn update_email(
    state: web::Data<Context>,
    customer: Customer,
    web::Form(form): web::Form<EmailForm>,
) -> PortalResult {
    let updated = customers::set_email(
        &state.db,
        customer.now,
        customer.merchant_id(),
        customer.customer_id(),
        &form.email,
    )
    .await;
    match updated {
        Ok(_) => Ok(see_other("/portal?done=email")),
        Err(Error::Invalid { message, .. }) => {
            let view =
                portal::view(&state.db, customer.merchant_id(), customer.customer_id()).await?;
            let typed: String = display(&form.email.replace('\0', "\u{fffd}"))
                .chars()
                .take(300)
                .collect();
            Ok(html(
                StatusCode::BAD_REQUEST,
                &home_page(&state, &customer, view, typed, Some(message), None),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// GET /portal/invoices/{id}/pay: to the invoice's pay page.
pub async fn pay(
    state: web::Data<Context>,
    customer: Customer,
    id: web::Path<String>,
) -> PortalResult {
    let token = portal::pay_token(
        &state.db,
        customer.now,
        customer.merchant_id(),
        customer.customer_id(),
        &id,
    )
    .await?;
    Ok(see_other(&format!("/pay/{token}")))
}
