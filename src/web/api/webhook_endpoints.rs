//! /v1/webhook_endpoints and /v1/webhook_deliveries/{id}/replay. The signing
//! secret is answered twice only: on creation and on rotation.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::subscriptions::Empty;
use super::{PathId, double_option};
use crate::app::AppState;
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
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

fn with_secret(w: WithSecret) -> objects::WebhookEndpointWithSecret {
    objects::WebhookEndpointWithSecret {
        endpoint: objects::WebhookEndpoint::from(&w.endpoint),
        secret: w.secret,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    url: String,
    enabled_events: Vec<String>,
    description: Option<String>,
}

pub async fn create(
    state: web::Data<AppState>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let new = NewEndpoint {
        url: body.url,
        enabled_events: body.enabled_events,
        description: body.description,
    };
    let policy = endpoints::policy(&state.settings);
    let created =
        endpoints::create(&state.db, policy, state.clock.now(), &merchant.id, new).await?;
    Ok(HttpResponse::Ok().json(with_secret(created)))
}

pub async fn get(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let endpoint = endpoints::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::WebhookEndpoint::from(&endpoint)))
}

list_query!(ListEndpoints {});

pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
    query: web::Query<ListEndpoints>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page(WebhookEndpointId::PREFIX)?;
    let page = endpoints::list(&state.db, &merchant.id, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/webhook_endpoints",
        page.map(|e| objects::WebhookEndpoint::from(&e)),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    url: Option<String>,
    enabled_events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    description: Option<Option<String>>,
    enabled: Option<bool>,
}

pub async fn update(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<UpdateEndpoint>,
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
        state.clock.now(),
        &merchant.id,
        id.as_str(),
        change,
    )
    .await?;
    Ok(HttpResponse::Ok().json(objects::WebhookEndpoint::from(&endpoint)))
}

pub async fn delete(
    state: web::Data<AppState>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// Seconds the current secret keeps signing beside the new one.
    expires_in: Option<u64>,
}

pub async fn rotate_secret(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<HttpResponse, ApiError> {
    let rotated = endpoints::rotate_secret(
        &state.db,
        state.clock.now(),
        &merchant.id,
        id.as_str(),
        body.expires_in,
    )
    .await?;
    Ok(HttpResponse::Ok().json(with_secret(rotated)))
}

list_query!(ListDeliveries {});

pub async fn deliveries(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    query: web::Query<ListDeliveries>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page(WebhookDeliveryId::PREFIX)?;
    let page = endpoints::deliveries(&state.db, &merchant.id, id.as_str(), &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        format!("/v1/webhook_endpoints/{}/deliveries", id.as_str()),
        page.map(|d| objects::WebhookDelivery::from(&d)),
    )))
}

pub async fn replay(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let delivery =
        endpoints::replay(&state.db, state.clock.now(), &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::WebhookDelivery::from(&delivery)))
}
