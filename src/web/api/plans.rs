//! /v1/plans

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use super::subscriptions::Empty;
use super::{PathId, double_option};
use crate::catalog::plans::{self, NewPlan, PlanInput, PlanUpdate};
use crate::context::Context;
use crate::domain::{Msat, PlanId};
use crate::error::{Error, Result};
use crate::objects;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    /// 1 to 200 characters.
    name: String,
    /// At most 1000 characters.
    description: Option<String>,
    /// The price of one period in millisatoshis, at most 1844674407370955161
    /// (the most one Lightning invoice can carry).
    #[schema(value_type = u64, maximum = 1_844_674_407_370_955_161_u64)]
    amount_msat: Msat,
    /// BTC, the only currency.
    currency: Option<String>,
    /// day, week, month, year or cron.
    interval: String,
    /// Periods of `interval` per billing period (1 by default); not with cron.
    interval_count: Option<u32>,
    /// A cron schedule with seconds (e.g. `0 0 9 * * Mon`), when `interval` is cron.
    cron_expression: Option<String>,
    /// Free days before the first paid period, 0 to 730.
    trial_period_days: Option<u32>,
    /// Seconds a customer has to pay an invoice.
    payment_due_secs: Option<u32>,
    /// Seconds after the due time at which an unpaid invoice is pushed again.
    retry_schedule_secs: Option<Vec<u32>>,
    /// Seconds after the due time before `grace_action` (7 days by default);
    /// every retry must come before it.
    grace_period_secs: Option<u32>,
    /// unpaid or cancel: what happens to the subscription when grace ends.
    grace_action: Option<String>,
}

impl CreatePlan {
    fn parse(self) -> Result<NewPlan> {
        PlanInput {
            name: self.name,
            description: self.description,
            amount: self.amount_msat,
            currency: self.currency,
            interval: self.interval,
            interval_count: self.interval_count,
            cron_expression: self.cron_expression,
            trial_period_days: self.trial_period_days,
            payment_due_secs: self.payment_due_secs,
            retry_schedule_secs: self.retry_schedule_secs,
            grace_period_secs: self.grace_period_secs,
            grace_action: self.grace_action,
        }
        .parse()
    }
}

/// Create a plan
///
/// Amount and schedule are fixed once created: to change a price, create a new plan.
#[utoipa::path(
    tag = "Plans",
    operation_id = "create_plan",
    request_body = CreatePlan,
    responses((status = 200, description = "The new plan.", body = objects::Live<objects::Plan>)),
)]
#[post("/plans")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreatePlan>,
) -> Result<HttpResponse, ApiError> {
    let plan = plans::create(&state.db, merchant.now, &merchant.id, body.parse()?).await?;
    Ok(HttpResponse::Ok()
        .json(merchant.live(objects::Plan::new(&plan, &state.settings.app.base_url))))
}

/// Retrieve a plan
#[utoipa::path(
    tag = "Plans",
    operation_id = "get_plan",
    params(("id" = String, Path, description = "The plan's id (`plan_...`).")),
    responses((status = 200, description = "The plan.", body = objects::Live<objects::Plan>)),
)]
#[get("/plans/{id}")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let plan = plans::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok()
        .json(merchant.live(objects::Plan::new(&plan, &state.settings.app.base_url))))
}

list_query!(ListPlans {
    /// active or archived.
    status: Option<String>,
});

/// List plans
#[utoipa::path(
    tag = "Plans",
    operation_id = "list_plans",
    params(ListPlans),
    responses((status = 200, description = "A page of plans.", body = List<objects::Live<objects::Plan>>)),
)]
#[get("/plans")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListPlans>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(PlanId::PREFIX)?;
    let plans = plans::list(&state.db, &merchant.id, q.status.as_deref(), &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/plans",
        plans.map(|p| merchant.live(objects::Plan::new(&p, &state.settings.app.base_url))),
    )))
}

/// Fields a merchant may send; everything about price and schedule is named
/// so the error can say it cannot change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePlan {
    /// 1 to 200 characters.
    name: Option<String>,
    /// At most 1000 characters; null removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    #[schema(ignore)]
    amount_msat: Option<Value>,
    #[schema(ignore)]
    currency: Option<Value>,
    #[schema(ignore)]
    interval: Option<Value>,
    #[schema(ignore)]
    interval_count: Option<Value>,
    #[schema(ignore)]
    cron_expression: Option<Value>,
    #[schema(ignore)]
    trial_period_days: Option<Value>,
    #[schema(ignore)]
    payment_due_secs: Option<Value>,
    #[schema(ignore)]
    retry_schedule_secs: Option<Value>,
    #[schema(ignore)]
    grace_period_secs: Option<Value>,
    #[schema(ignore)]
    grace_action: Option<Value>,
}

impl UpdatePlan {
    fn parse(self) -> Result<PlanUpdate> {
        let fixed = [
            ("amount_msat", &self.amount_msat),
            ("currency", &self.currency),
            ("interval", &self.interval),
            ("interval_count", &self.interval_count),
            ("cron_expression", &self.cron_expression),
            ("trial_period_days", &self.trial_period_days),
            ("payment_due_secs", &self.payment_due_secs),
            ("retry_schedule_secs", &self.retry_schedule_secs),
            ("grace_period_secs", &self.grace_period_secs),
            ("grace_action", &self.grace_action),
        ];
        if let Some((field, _)) = fixed.iter().find(|(_, v)| v.is_some()) {
            return Err(Error::invalid(
                field,
                "cannot be changed on an existing plan; create a new plan and move subscriptions to it",
            ));
        }
        Ok(PlanUpdate {
            name: self.name,
            description: self.description,
        })
    }
}

/// Update a plan
///
/// Only `name` and `description` can change; any price or schedule field is
/// refused naming it.
#[utoipa::path(
    tag = "Plans",
    operation_id = "update_plan",
    params(("id" = String, Path, description = "The plan's id (`plan_...`).")),
    request_body = UpdatePlan,
    responses((status = 200, description = "The updated plan.", body = objects::Live<objects::Plan>)),
)]
#[post("/plans/{id}")]
pub async fn update(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<UpdatePlan>,
) -> Result<HttpResponse, ApiError> {
    let plan = plans::update(
        &state.db,
        merchant.now,
        &merchant.id,
        id.as_str(),
        body.parse()?,
    )
    .await?;
    Ok(HttpResponse::Ok()
        .json(merchant.live(objects::Plan::new(&plan, &state.settings.app.base_url))))
}

/// Archive a plan
///
/// An archived plan takes no new subscriptions; existing ones go on.
#[utoipa::path(
    tag = "Plans",
    operation_id = "archive_plan",
    params(("id" = String, Path, description = "The plan's id (`plan_...`).")),
    responses((status = 200, description = "The archived plan.", body = objects::Live<objects::Plan>)),
)]
#[post("/plans/{id}/archive")]
pub async fn archive(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let plan = plans::archive(&state.db, merchant.now, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok()
        .json(merchant.live(objects::Plan::new(&plan, &state.settings.app.base_url))))
}
