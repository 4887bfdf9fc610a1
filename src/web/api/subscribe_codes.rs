//! /v1/subscribe_codes: codes a subscriber's node subscribes with
//! (`pushbill payer subscribe CODE`).

use actix_web::{HttpResponse, post, web};
use chrono::Duration;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use crate::catalog::subscribe_codes::{self, CodeFor, Suggestion};
use crate::context::Context;
use crate::domain::Msat;
use crate::error::{Error, Result};
use crate::objects;
use push_protocol::subscribe::Window;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscribeCode {
    /// A plan (`plan_...`): every subscriber using the code gets a customer
    /// and a subscription to it, until the code expires.
    plan: Option<String>,
    /// A customer (`cus_...`): the code links the subscriber's node to this
    /// customer (an account grant for one-off invoices), once.
    customer: Option<String>,
    /// The cap per window to suggest to the subscriber (msat); required for
    /// an account code, for a plan code the plan's amount by default.
    cap_msat: Option<u64>,
    /// The cap's window: minute, hour, day, week or month (calendar, UTC);
    /// with `cap_msat`. For a plan code, the one matching its schedule by default.
    window: Option<String>,
    /// 60 to 31536000 (365 days); 30 days by default.
    expires_in_secs: Option<u64>,
}

impl CreateSubscribeCode {
    fn parse(self) -> Result<(CodeFor, Option<Suggestion>, Option<Duration>)> {
        let suggestion = match (self.cap_msat, self.window.as_deref()) {
            (None, None) => None,
            (Some(cap), Some(window)) => Some(Suggestion {
                cap_msat: Msat::from_msat(cap)
                    .map_err(|e| Error::invalid("cap_msat", e.to_string()))?,
                window: Window::parse(window).ok_or_else(|| {
                    Error::invalid("window", "must be minute, hour, day, week or month")
                })?,
            }),
            (Some(_), None) => return Err(Error::invalid("window", "required with `cap_msat`")),
            (None, Some(_)) => return Err(Error::invalid("cap_msat", "required with `window`")),
        };
        let code_for = match (self.plan, self.customer) {
            (Some(plan), None) => CodeFor::Plan(plan),
            (None, Some(customer)) => CodeFor::Customer(customer),
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "customer",
                    "give `plan` or `customer`, not both",
                ));
            }
            (None, None) => return Err(Error::invalid("plan", "give `plan` or `customer`")),
        };
        let expires_in = self
            .expires_in_secs
            .map(|s| {
                i64::try_from(s)
                    .ok()
                    .and_then(Duration::try_seconds)
                    .ok_or_else(|| Error::invalid("expires_in_secs", "out of range"))
            })
            .transpose()?;
        Ok((code_for, suggestion, expires_in))
    }
}

/// Create a subscribe code
///
/// `code` is `<code>@<node id>@<host:port>`: the subscriber gives it to
/// their node, which asks this deployment's node for the terms and, on the
/// subscriber's yes, creates a grant (docs/push-invoices.md section 4).
/// 409 `node_not_started` before the node role has ever run.
#[utoipa::path(
    tag = "Subscribe codes",
    operation_id = "create_subscribe_code",
    request_body = CreateSubscribeCode,
    responses((status = 200, description = "The new code.", body = objects::Live<objects::SubscribeCode>)),
)]
#[post("/subscribe_codes")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateSubscribeCode>,
) -> Result<HttpResponse, ApiError> {
    let (code_for, suggestion, expires_in) = body.parse()?;
    let (row, full) = subscribe_codes::create(
        &state.db,
        merchant.now,
        &merchant.id,
        code_for,
        suggestion,
        expires_in,
    )
    .await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::SubscribeCode::new(&row, full))))
}
