//! /v1/webhook_endpoints and /v1/webhook_deliveries/{id}/replay. The signing
//! secret is answered twice only: on creation and on rotation (both POSTs
//! refuse an `Idempotency-Key`, so it is never stored for a replay).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Merchant;
use super::error::{ApiError, ErrorBody};
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use super::subscriptions::Empty;
use super::{PathId, double_option};
use crate::context::Context;
use crate::domain::ids::{WebhookAttemptId, WebhookDeliveryId, WebhookEndpointId};
use crate::notify::webhooks::endpoints::{
    self, EndpointError, EndpointUpdate, NewEndpoint, WithSecret,
};
use crate::objects;

impl From<EndpointError> for ApiError {
    fn from(e: EndpointError) -> Self {
        match e {
            EndpointError::Refused(refused) => ApiError {
                param: Some("url".to_owned()),
                ..ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request_error",
                    "url_refused",
                    &format!("url: {refused}; webhook endpoints must be public addresses"),
                )
            },
            EndpointError::Other(e) => e.into(),
        }
    }
}

fn with_secret(
    merchant: &Merchant,
    w: WithSecret,
) -> objects::Live<objects::WebhookEndpointWithSecret> {
    merchant.live(objects::WebhookEndpointWithSecret {
        endpoint: objects::WebhookEndpoint::from(&w.endpoint),
        secret: w.secret,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookEndpoint {
    /// Where events are POSTed: `https://...` (plain `http` on the sandbox),
    /// at most 2048 characters, a public address (no credentials in it).
    url: String,
    /// `["*"]` for every event, or a list of event types such as `invoice.paid`.
    enabled_events: Vec<String>,
    /// At most 1000 characters.
    description: Option<String>,
}

/// Create a webhook endpoint
///
/// The answer is the only one (with a rotation's) that carries the signing
/// secret; this POST refuses an `Idempotency-Key` so the secret is never
/// stored for a replay. A URL that resolves to a loopback, private,
/// link-local or metadata address is refused with a 422 naming `url`.
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "create_webhook_endpoint",
    request_body = CreateWebhookEndpoint,
    responses(
        (status = 200, description = "The new endpoint with its signing secret.", body = objects::Live<objects::WebhookEndpointWithSecret>),
        (status = 422, description = "The URL is not a public address (`url_refused`).", body = ErrorBody),
    ),
)]
#[post("/webhook_endpoints")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let new = NewEndpoint {
        url: body.url,
        enabled_events: body.enabled_events,
        description: body.description,
    };
    let policy = endpoints::policy(&state.settings);
    let created = endpoints::create(&state.db, policy, merchant.now, &merchant.id, new).await?;
    Ok(HttpResponse::Ok().json(with_secret(&merchant, created)))
}

/// Retrieve a webhook endpoint
///
/// Never with its secret.
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "get_webhook_endpoint",
    params(("id" = String, Path, description = "The endpoint's id (`we_...`).")),
    responses((status = 200, description = "The endpoint.", body = objects::Live<objects::WebhookEndpoint>)),
)]
#[get("/webhook_endpoints/{id}")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::WebhookEndpoint::from(&endpoint))))
}

list_query!(ListWebhookEndpoints {});

/// List webhook endpoints
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "list_webhook_endpoints",
    params(ListWebhookEndpoints),
    responses((status = 200, description = "A page of webhook endpoints.", body = List<objects::Live<objects::WebhookEndpoint>>)),
)]
#[get("/webhook_endpoints")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListWebhookEndpoints>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(WebhookEndpointId::PREFIX)?;
    let page = endpoints::list(&state.db, &merchant.id, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/webhook_endpoints",
        page.map(|e| merchant.live(objects::WebhookEndpoint::from(&e))),
    )))
}

/// Fields to change; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookEndpoint {
    /// A new URL, checked like on creation.
    url: Option<String>,
    /// `["*"]` or a list of event types.
    enabled_events: Option<Vec<String>>,
    /// At most 1000 characters; null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    /// false disables the endpoint (its deliveries wait); true enables it
    /// again, also after the worker disabled it.
    enabled: Option<bool>,
}

/// Update a webhook endpoint
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "update_webhook_endpoint",
    params(("id" = String, Path, description = "The endpoint's id (`we_...`).")),
    request_body = UpdateWebhookEndpoint,
    responses(
        (status = 200, description = "The updated endpoint.", body = objects::Live<objects::WebhookEndpoint>),
        (status = 422, description = "The URL is not a public address (`url_refused`).", body = ErrorBody),
    ),
)]
#[post("/webhook_endpoints/{id}")]
pub async fn update(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<UpdateWebhookEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let change = EndpointUpdate {
        url: body.url,
        enabled_events: body.enabled_events,
        description: body.description,
        enabled: body.enabled,
    };
    let policy = endpoints::policy(&state.settings);
    let endpoint = endpoints::update(
        &state.db,
        policy,
        merchant.now,
        &merchant.id,
        id.as_str(),
        change,
    )
    .await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::WebhookEndpoint::from(&endpoint))))
}

/// Delete a webhook endpoint
///
/// With its delivery history; events no longer go to it.
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "delete_webhook_endpoint",
    params(("id" = String, Path, description = "The endpoint's id (`we_...`).")),
    responses((status = 200, description = "The endpoint is gone.", body = objects::Deleted)),
)]
#[delete("/webhook_endpoints/{id}")]
pub async fn delete(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::delete(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::Deleted {
        id: endpoint.id,
        object: "webhook_endpoint",
        deleted: true,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateWebhookSecret {
    /// Seconds the current secret keeps signing beside the new one: 0 to
    /// 604800 (7 days), 86400 by default; 0 ends it at once.
    #[schema(minimum = 0, maximum = 604_800)]
    expires_in: Option<u64>,
}

/// Rotate a webhook endpoint's secret
///
/// The answer carries the new secret, once; this POST refuses an
/// `Idempotency-Key`. Until `previous_secret_expires_at` every message is
/// signed with both secrets.
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "rotate_webhook_endpoint_secret",
    params(("id" = String, Path, description = "The endpoint's id (`we_...`).")),
    request_body(content = RotateWebhookSecret, description = "`{}` or no body keeps the old secret for a day."),
    responses((status = 200, description = "The endpoint with its new signing secret.", body = objects::Live<objects::WebhookEndpointWithSecret>)),
)]
#[post("/webhook_endpoints/{id}/rotate_secret")]
pub async fn rotate_secret(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<RotateWebhookSecret>,
) -> Result<HttpResponse, ApiError> {
    // The deployment's time: the delivery worker checks the old secret's
    // expiry on that clock.
    let rotated = endpoints::rotate_secret(
        &state.db,
        state.clocks.now(),
        &merchant.id,
        id.as_str(),
        body.expires_in,
    )
    .await?;
    Ok(HttpResponse::Ok().json(with_secret(&merchant, rotated)))
}

list_query!(ListWebhookDeliveries {});

/// List an endpoint's deliveries
///
/// Each event sent (or to be sent) to the endpoint, with its last attempt.
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "list_webhook_deliveries",
    params(
        ("id" = String, Path, description = "The endpoint's id (`we_...`)."),
        ListWebhookDeliveries,
    ),
    responses((status = 200, description = "A page of deliveries.", body = List<objects::Live<objects::WebhookDelivery>>)),
)]
#[get("/webhook_endpoints/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiQuery(q): ApiQuery<ListWebhookDeliveries>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(WebhookDeliveryId::PREFIX)?;
    let page = endpoints::deliveries(&state.db, &merchant.id, id.as_str(), &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        format!("/v1/webhook_endpoints/{}/deliveries", id.as_str()),
        page.map(|d| merchant.live(objects::WebhookDelivery::from(&d))),
    )))
}

list_query!(ListWebhookDeliveryAttempts {});

/// List a delivery's attempts
///
/// Every attempt to send the delivery, newest first: when, the HTTP status
/// and the start of the answer, or the error, and what the delivery's status
/// became.
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "list_webhook_delivery_attempts",
    params(
        ("id" = String, Path, description = "The delivery's id (`wd_...`)."),
        ListWebhookDeliveryAttempts,
    ),
    responses((status = 200, description = "A page of attempts.", body = List<objects::Live<objects::WebhookDeliveryAttempt>>)),
)]
#[get("/webhook_deliveries/{id}/attempts")]
pub async fn attempts(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiQuery(q): ApiQuery<ListWebhookDeliveryAttempts>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(WebhookAttemptId::PREFIX)?;
    let page = endpoints::attempts(&state.db, &merchant.id, id.as_str(), &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        format!("/v1/webhook_deliveries/{}/attempts", id.as_str()),
        page.map(|a| merchant.live(objects::WebhookDeliveryAttempt::from(&a))),
    )))
}

/// Replay a webhook delivery
///
/// Sends it again now with the same `webhook-id`: one more attempt for a
/// failed or succeeded delivery; a pending one is brought forward. The
/// endpoint must be enabled (409 otherwise).
#[utoipa::path(
    tag = "Webhook endpoints",
    operation_id = "replay_webhook_delivery",
    params(("id" = String, Path, description = "The delivery's id (`wd_...`).")),
    request_body(content = Empty, description = "No fields: `{}` or no body."),
    responses((status = 200, description = "The delivery, due now.", body = objects::Live<objects::WebhookDelivery>)),
)]
#[post("/webhook_deliveries/{id}/replay")]
pub async fn replay(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    // Queued for the delivery worker, on the deployment's clock.
    let delivery =
        endpoints::replay(&state.db, state.clocks.now(), &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::WebhookDelivery::from(&delivery))))
}
