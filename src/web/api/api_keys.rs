//! /v1/api_keys: a merchant manages its own keys. The secret is answered once,
//! when the key is created; lists carry only its prefix.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::List;
use super::subscriptions::Empty;
use crate::app::AppState;
use crate::auth::api_keys::{self, Mode};
use crate::objects;
use crate::store::page::Page;

/// The merchant's keys, newest first, revoked ones included (a merchant has few).
pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
) -> Result<HttpResponse, ApiError> {
    let keys = api_keys::list(&state.db, &merchant.id).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/api_keys",
        Page {
            data: keys.iter().map(objects::ApiKey::from).collect(),
            has_more: false,
        },
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    name: String,
}

/// A new key of the network's mode (test on the sandbox, live elsewhere).
pub async fn create(
    state: web::Data<AppState>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> Result<HttpResponse, ApiError> {
    let mode = Mode::for_network(state.settings.app.network);
    let created =
        api_keys::create(&state.db, state.clock.now(), &merchant.id, &body.name, mode).await?;
    Ok(HttpResponse::Ok().json(objects::CreatedApiKey {
        key: objects::ApiKey::from(&created.key),
        secret: created.secret,
    }))
}

/// Revokes one of the merchant's keys, the one in use included.
pub async fn revoke(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let key = api_keys::revoke(&state.db, state.clock.now(), &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::ApiKey::from(&key)))
}
