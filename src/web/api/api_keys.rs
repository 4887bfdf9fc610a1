//! /v1/api_keys: a merchant manages its own keys. The secret is answered once,
//! when the key is created; lists carry only its prefix.

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use super::subscriptions::Empty;
use crate::auth::api_keys::{self, Mode};
use crate::context::Context;
use crate::domain::ids::ApiKeyId;
use crate::objects;

list_query!(ListApiKeys {});

/// List API keys
///
/// Newest first, revoked ones included; never a secret, only its prefix.
#[utoipa::path(
    tag = "API keys",
    operation_id = "list_api_keys",
    params(ListApiKeys),
    responses((status = 200, description = "A page of API keys.", body = List<objects::Live<objects::ApiKey>>)),
)]
#[get("/api_keys")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListApiKeys>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(ApiKeyId::PREFIX)?;
    let keys = api_keys::list(&state.db, &merchant.id, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/api_keys",
        keys.map(|k| merchant.live(objects::ApiKey::from(&k))),
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    /// 1 to 100 characters, e.g. "CI".
    name: String,
}

/// Create an API key
///
/// Of the network's mode (test on the sandbox, live elsewhere). The answer is
/// the only one that carries the secret; this POST refuses an `Idempotency-Key`
/// so the secret is never stored for a replay.
#[utoipa::path(
    tag = "API keys",
    operation_id = "create_api_key",
    request_body = CreateApiKey,
    responses((status = 200, description = "The new key with its secret.", body = objects::Live<objects::CreatedApiKey>)),
)]
#[post("/api_keys")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let mode = Mode::for_network(state.settings.app.network);
    let created = api_keys::create(
        &state.db,
        state.clocks.now(),
        &merchant.id,
        &body.name,
        mode,
    )
    .await?;
    Ok(
        HttpResponse::Ok().json(merchant.live(objects::CreatedApiKey {
            key: objects::ApiKey::from(&created.key),
            secret: created.secret,
        })),
    )
}

/// Revoke an API key
///
/// Any of the merchant's keys, the one in use included. Revoking twice changes nothing.
#[utoipa::path(
    tag = "API keys",
    operation_id = "revoke_api_key",
    params(("id" = String, Path, description = "The key's id (`key_...`).")),
    request_body(content = Empty, description = "No fields: `{}` or no body."),
    responses((status = 200, description = "The revoked key.", body = objects::Live<objects::ApiKey>)),
)]
#[post("/api_keys/{id}/revoke")]
pub async fn revoke(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let key = api_keys::revoke(&state.db, state.clocks.now(), &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::ApiKey::from(&key))))
}
