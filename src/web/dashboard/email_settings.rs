//! Email settings: which emails go to the merchant's customers, where the
//! merchant's own emails go, and how unpaid invoices are reported. Through
//! `notify::email::messages`, as the API's /v1/settings/email.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;

use super::session::Signed;
use super::view::{self, FieldError, Shell};
use super::{PageResult, html};
use crate::context::Context;
use crate::notify::email::messages::{
    self, CUSTOMER_KINDS, Kind, Preferences, PreferencesUpdate, UnpaidSummary,
};

struct KindRow {
    kind: &'static str,
    label: &'static str,
    on: bool,
}

#[derive(Template)]
#[template(path = "dashboard/email_settings.html")]
struct SettingsPage {
    shell: Shell,
    kinds: Vec<KindRow>,
    merchant_address: String,
    unpaid_summary: &'static str,
    unpaid_summary_hour: u32,
    hours: Vec<u32>,
    saved: bool,
    error: FieldError,
}

fn label(kind: Kind) -> &'static str {
    match kind {
        Kind::PaymentRequest => {
            "Payment requests: each invoice with its pay page (for customers without a node that pays pushes)"
        }
        Kind::PaymentFailed => "A payment attempt failed",
        Kind::InvoiceUnpaid => "An invoice went unpaid at the end of its grace period",
        Kind::Receipt => "Receipts",
        Kind::SubscriptionCanceled => "The subscription was canceled",
        Kind::TrialEnding => "The trial ends soon",
        _ => "",
    }
}

fn render(
    signed: &Signed,
    status: StatusCode,
    prefs: &Preferences,
    saved: bool,
    error: FieldError,
) -> PageResult {
    Ok(html(
        status,
        &SettingsPage {
            shell: Shell::new(signed, "settings"),
            kinds: CUSTOMER_KINDS
                .iter()
                .map(|k| KindRow {
                    kind: k.as_str(),
                    label: label(*k),
                    on: !prefs.disabled.iter().any(|d| d == k.as_str()),
                })
                .collect(),
            merchant_address: prefs.merchant_address.clone().unwrap_or_default(),
            unpaid_summary: prefs.unpaid_summary.as_str(),
            unpaid_summary_hour: prefs.unpaid_summary_hour,
            hours: (0..24).collect(),
            saved,
            error,
        },
    ))
}

/// GET /dashboard/settings/email
pub async fn page(state: web::Data<Context>, signed: Signed) -> PageResult {
    let prefs = messages::get(&state.db, signed.merchant_id()).await?;
    render(&signed, StatusCode::OK, &prefs, false, FieldError::none())
}

/// POST /dashboard/settings/email: every customer email is on when its
/// checkbox (`email_<kind>`) is sent, off otherwise.
pub async fn update(
    state: web::Data<Context>,
    signed: Signed,
    web::Form(form): web::Form<Vec<(String, String)>>,
) -> PageResult {
    let value = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let customer_emails = CUSTOMER_KINDS
        .iter()
        .map(|k| {
            let on = value(&format!("email_{}", k.as_str())).is_some();
            (k.as_str().to_owned(), on)
        })
        .collect();
    let address = value("merchant_address").unwrap_or_default().trim();
    let mut change = PreferencesUpdate {
        customer_emails,
        merchant_address: Some((!address.is_empty()).then(|| address.to_owned())),
        unpaid_summary: None,
        unpaid_summary_hour: None,
    };
    let invalid = |field: &str, message: &str| FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let mut error = FieldError::none();
    match value("unpaid_summary").map(UnpaidSummary::parse) {
        Some(Some(mode)) => change.unpaid_summary = Some(mode),
        Some(None) => error = invalid("unpaid_summary", "immediate, daily or off"),
        None => {}
    }
    match value("unpaid_summary_hour").map(str::parse::<u32>) {
        Some(Ok(hour)) => change.unpaid_summary_hour = Some(hour),
        Some(Err(_)) => error = invalid("unpaid_summary_hour", "an hour from 0 to 23 (UTC)"),
        None => {}
    }
    if error.field.is_empty() {
        match messages::update(&state.db, signed.now, signed.merchant_id(), change).await {
            Ok(prefs) => return render(&signed, StatusCode::OK, &prefs, true, FieldError::none()),
            Err(e) => error = view::field_error(e)?,
        }
    }
    let prefs = messages::get(&state.db, signed.merchant_id()).await?;
    render(&signed, StatusCode::BAD_REQUEST, &prefs, false, error)
}
