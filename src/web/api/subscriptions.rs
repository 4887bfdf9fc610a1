//! /v1/subscriptions

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use crate::billing::lifecycle::{self, NewSubscription};
use crate::catalog::{self, subscriptions::Filter};
use crate::context::Context;
use crate::domain::SubscriptionId;
use crate::error::{Error, Result};
use crate::objects;

fn ok(merchant: &Merchant, sub: &crate::store::subscriptions::Model) -> HttpResponse {
    HttpResponse::Ok().json(merchant.live(objects::Subscription::from(sub)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The customer's id (`cus_...`).
    customer: String,
    /// The plan's id (`plan_...`); an archived plan is refused.
    plan: String,
    /// Free days before the first period, 0 to 730; overrides the plan's.
    trial_period_days: Option<u32>,
    /// When periods start (RFC 3339); now by default.
    billing_anchor: Option<DateTime<Utc>>,
    /// String values under keys of up to 40 characters (at most 50 keys).
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
}

impl CreateSubscription {
    fn parse(self) -> Result<NewSubscription> {
        if self.trial_period_days.is_some_and(|d| d > 730) {
            return Err(Error::invalid("trial_period_days", "must be 0 to 730"));
        }
        let metadata = catalog::merge_metadata(&serde_json::json!({}), self.metadata)?;
        Ok(NewSubscription {
            customer_id: self.customer,
            plan_id: self.plan,
            trial: self.trial_period_days.map(|d| Duration::days(d.into())),
            billing_anchor: self.billing_anchor,
            metadata: Some(metadata),
        })
    }
}

/// Create a subscription
///
/// The first period's invoice is created at once (after the trial, if any).
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "create_subscription",
    request_body = CreateSubscription,
    responses((status = 200, description = "The new subscription.", body = objects::Live<objects::Subscription>)),
)]
#[post("/subscriptions")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    let (sub, _invoice) =
        lifecycle::create(&state.db, merchant.now, &merchant.id, body.parse()?).await?;
    Ok(ok(&merchant, &sub))
}

/// Retrieve a subscription
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "get_subscription",
    params(("id" = String, Path, description = "The subscription's id (`sub_...`).")),
    responses((status = 200, description = "The subscription.", body = objects::Live<objects::Subscription>)),
)]
#[get("/subscriptions/{id}")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        &merchant,
        &lifecycle::get(&state.db, &merchant.id, id.as_str()).await?,
    ))
}

list_query!(ListSubscriptions {
    /// Only this customer's subscriptions (`cus_...`).
    customer: Option<String>,
    /// trialing, active, past_due, unpaid, paused or canceled.
    status: Option<String>,
});

/// List subscriptions
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "list_subscriptions",
    params(ListSubscriptions),
    responses((status = 200, description = "A page of subscriptions.", body = List<objects::Live<objects::Subscription>>)),
)]
#[get("/subscriptions")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListSubscriptions>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(SubscriptionId::PREFIX)?;
    let filter = Filter {
        customer: q.customer,
        status: q.status,
        plan: None,
    };
    let page = catalog::subscriptions::list(&state.db, &merchant.id, filter, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/subscriptions",
        page.map(|s| merchant.live(objects::Subscription::from(&s))),
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    /// true: cancel when the current period ends; false (default): now.
    #[serde(default)]
    at_period_end: bool,
}

/// Cancel a subscription
///
/// Now, or at the end of the current period with `at_period_end`.
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "cancel_subscription",
    params(("id" = String, Path, description = "The subscription's id (`sub_...`).")),
    request_body = Cancel,
    responses((status = 200, description = "The subscription.", body = objects::Live<objects::Subscription>)),
)]
#[post("/subscriptions/{id}/cancel")]
pub async fn cancel(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<Cancel>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::cancel(
        &state.db,
        merchant.now,
        &merchant.id,
        id.as_str(),
        body.at_period_end,
    )
    .await?;
    Ok(ok(&merchant, &sub))
}

/// A body with no fields (`{}` or none at all).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Pause a subscription
///
/// No invoices are created while it is paused.
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "pause_subscription",
    params(("id" = String, Path, description = "The subscription's id (`sub_...`).")),
    request_body(content = Empty, description = "No fields: `{}` or no body."),
    responses((status = 200, description = "The paused subscription.", body = objects::Live<objects::Subscription>)),
)]
#[post("/subscriptions/{id}/pause")]
pub async fn pause(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::pause(&state.db, merchant.now, &merchant.id, id.as_str()).await?;
    Ok(ok(&merchant, &sub))
}

/// Resume a paused subscription
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "resume_subscription",
    params(("id" = String, Path, description = "The subscription's id (`sub_...`).")),
    request_body(content = Empty, description = "No fields: `{}` or no body."),
    responses((status = 200, description = "The resumed subscription.", body = objects::Live<objects::Subscription>)),
)]
#[post("/subscriptions/{id}/resume")]
pub async fn resume(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::resume(&state.db, merchant.now, &merchant.id, id.as_str()).await?;
    Ok(ok(&merchant, &sub))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateSubscription)]
pub struct Update {
    /// Takes over when the current period ends.
    plan: String,
}

/// Change a subscription's plan
///
/// The new plan takes over when the current period ends (`pending_plan`).
#[utoipa::path(
    tag = "Subscriptions",
    operation_id = "update_subscription",
    params(("id" = String, Path, description = "The subscription's id (`sub_...`).")),
    request_body = Update,
    responses((status = 200, description = "The subscription.", body = objects::Live<objects::Subscription>)),
)]
#[post("/subscriptions/{id}")]
pub async fn update(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<Update>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::change_plan(
        &state.db,
        merchant.now,
        &merchant.id,
        id.as_str(),
        &body.plan,
    )
    .await?;
    Ok(ok(&merchant, &sub))
}
