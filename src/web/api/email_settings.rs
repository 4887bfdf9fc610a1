//! /v1/settings/email: which emails go to the merchant's customers, where
//! the merchant's own emails go, and how unpaid invoices are reported.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Merchant;
use super::double_option;
use super::error::ApiError;
use super::json::ApiJson;
use crate::context::Context;
use crate::notify::email::messages::{self, PreferencesUpdate, UnpaidSummary};
use crate::objects;

/// Retrieve the email settings
#[utoipa::path(
    tag = "Settings",
    operation_id = "get_email_settings",
    responses((status = 200, description = "The merchant's email settings.", body = objects::Live<objects::EmailSettings>)),
)]
#[get("/settings/email")]
pub async fn get(state: web::Data<Context>, merchant: Merchant) -> Result<HttpResponse, ApiError> {
    let prefs = messages::get(&state.db, &merchant.id).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::EmailSettings::from(&prefs))))
}

/// Customer emails to turn on (true) or off (false); absent ones stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomerEmails {
    payment_request: Option<bool>,
    payment_failed: Option<bool>,
    invoice_unpaid: Option<bool>,
    receipt: Option<bool>,
    subscription_canceled: Option<bool>,
    trial_ending: Option<bool>,
}

impl UpdateCustomerEmails {
    fn changes(self) -> Vec<(String, bool)> {
        [
            ("payment_request", self.payment_request),
            ("payment_failed", self.payment_failed),
            ("invoice_unpaid", self.invoice_unpaid),
            ("receipt", self.receipt),
            ("subscription_canceled", self.subscription_canceled),
            ("trial_ending", self.trial_ending),
        ]
        .into_iter()
        .filter_map(|(kind, on)| on.map(|on| (kind.to_owned(), on)))
        .collect()
    }
}

/// Fields to change; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEmailSettings {
    customer_emails: Option<UpdateCustomerEmails>,
    /// An email address; null goes back to the oldest dashboard user's.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    merchant_address: Option<Option<String>>,
    /// `immediate`, `daily` or `off`.
    unpaid_summary: Option<UnpaidSummary>,
    /// 0 to 23 (UTC).
    #[schema(minimum = 0, maximum = 23)]
    unpaid_summary_hour: Option<u32>,
}

/// Update the email settings
///
/// Every field is checked before anything changes; an error names the field
/// (e.g. `customer_emails.receipt`, `merchant_address`). Changes apply to
/// the emails of events from then on.
#[utoipa::path(
    tag = "Settings",
    operation_id = "update_email_settings",
    request_body = UpdateEmailSettings,
    responses((status = 200, description = "The updated email settings.", body = objects::Live<objects::EmailSettings>)),
)]
#[post("/settings/email")]
pub async fn update(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<UpdateEmailSettings>,
) -> Result<HttpResponse, ApiError> {
    let change = PreferencesUpdate {
        customer_emails: body.customer_emails.unwrap_or_default().changes(),
        merchant_address: body.merchant_address,
        unpaid_summary: body.unpaid_summary,
        unpaid_summary_hour: body.unpaid_summary_hour,
    };
    let prefs = messages::update(&state.db, merchant.now, &merchant.id, change).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::EmailSettings::from(&prefs))))
}
