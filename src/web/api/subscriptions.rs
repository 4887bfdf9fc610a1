//! /v1/subscriptions

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use crate::app::AppState;
use crate::billing::lifecycle::{self, NewSubscription};
use crate::catalog::{self, subscriptions::Filter};
use crate::domain::SubscriptionId;
use crate::error::{Error, Result};
use crate::objects;

fn ok(sub: &crate::store::subscriptions::Model) -> HttpResponse {
    HttpResponse::Ok().json(objects::Subscription::from(sub))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    customer: String,
    plan: String,
    trial_period_days: Option<u32>,
    billing_anchor: Option<DateTime<Utc>>,
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

pub async fn create(
    state: web::Data<AppState>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateSubscription>,
) -> Result<HttpResponse, ApiError> {
    let (sub, _invoice) =
        lifecycle::create(&state.db, state.clock.now(), &merchant.id, body.parse()?).await?;
    Ok(ok(&sub))
}

pub async fn get(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    Ok(ok(
        &lifecycle::get(&state.db, &merchant.id, id.as_str()).await?
    ))
}

list_query!(ListSubscriptions {
    customer: Option<String>,
    status: Option<String>,
});

pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
    query: web::Query<ListSubscriptions>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = q.page(SubscriptionId::PREFIX)?;
    let filter = Filter {
        customer: q.customer,
        status: q.status,
    };
    let page = catalog::subscriptions::list(&state.db, &merchant.id, filter, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/subscriptions",
        page.map(|s| objects::Subscription::from(&s)),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cancel {
    #[serde(default)]
    at_period_end: bool,
}

pub async fn cancel(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<Cancel>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::cancel(
        &state.db,
        state.clock.now(),
        &merchant.id,
        id.as_str(),
        body.at_period_end,
    )
    .await?;
    Ok(ok(&sub))
}

/// A body with no fields (`{}` or none at all).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

pub async fn pause(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::pause(&state.db, state.clock.now(), &merchant.id, id.as_str()).await?;
    Ok(ok(&sub))
}

pub async fn resume(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::resume(&state.db, state.clock.now(), &merchant.id, id.as_str()).await?;
    Ok(ok(&sub))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    /// Takes over when the current period ends.
    plan: String,
}

pub async fn update(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<Update>,
) -> Result<HttpResponse, ApiError> {
    let sub = lifecycle::change_plan(
        &state.db,
        state.clock.now(),
        &merchant.id,
        id.as_str(),
        &body.plan,
    )
    .await?;
    Ok(ok(&sub))
}
