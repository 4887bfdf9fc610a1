//! The `Merchant` extractor: the merchant behind `Authorization: Bearer <key>`.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use chrono::{DateTime, Utc};
use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};

use super::error::ApiError;
use crate::auth::api_keys;
use crate::context::Context;
use crate::objects;
use crate::web::WebState;

/// The authenticated merchant. Every /v1 handler takes one.
#[derive(Debug, Clone)]
pub struct Merchant {
    pub id: String,
    /// The merchant's billing time for this request (its own test clock in
    /// the sandbox, see `clock::Clocks`): what the request's billing facts
    /// (periods, due dates, `created_at`, `canceled_at`, ...) are dated with.
    pub now: DateTime<Utc>,
    /// The deployment's mode (`api_keys::Mode::is_live`): what every object
    /// answered carries as `livemode`.
    pub livemode: bool,
}

impl Merchant {
    /// `object` as the API answers it, with `livemode`.
    pub fn live<T>(&self, object: T) -> objects::Live<T> {
        objects::Live::new(object, self.livemode)
    }
}

impl FromRequest for Merchant {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// The one authentication of a request, shared by whoever asks for it.
#[derive(Clone)]
struct Authentication(Shared<LocalBoxFuture<'static, Result<Merchant, ApiError>>>);

/// Authenticates once per request, and counts the request against its key's
/// rate limit (429 past it). Middleware and extractors (which actix runs
/// concurrently) share one result, kept in the request's extensions.
pub async fn authenticate(req: &HttpRequest) -> Result<Merchant, ApiError> {
    let existing = req.extensions().get::<Authentication>().cloned();
    let shared = match existing {
        Some(auth) => auth,
        None => {
            let auth = Authentication(start(req).boxed_local().shared());
            req.extensions_mut().insert(auth.clone());
            auth
        }
    };
    shared.0.await
}

/// The authentication's future; it holds no reference to the request (it is
/// kept in the request's extensions).
fn start(req: &HttpRequest) -> impl Future<Output = Result<Merchant, ApiError>> + 'static {
    let state = req.app_data::<web::Data<Context>>().cloned();
    let limiter = req
        .app_data::<web::Data<WebState>>()
        .map(|w| Arc::clone(&w.rate_limiter));
    let secret = bearer(req).map(str::to_owned);
    async move {
        let (Some(state), Some(limiter)) = (state, limiter) else {
            tracing::error!("API: application state missing");
            return Err(ApiError::internal());
        };
        let secret = secret?;
        let mode = api_keys::Mode::for_network(state.settings.app.network);
        let owner = match api_keys::authenticate(&state.db, state.clocks.now(), &secret, mode)
            .await?
        {
            Ok(owner) => owner,
            Err(api_keys::Refused::Unknown) => {
                return Err(ApiError::unauthorized(
                    "api_key_invalid",
                    "Invalid API key: it is unknown or has been revoked.",
                ));
            }
            Err(api_keys::Refused::WrongMode(api_keys::Mode::Test)) => {
                return Err(ApiError::unauthorized(
                    "api_key_wrong_mode",
                    "This is a test key (pb_test_): it works only on the sandbox, and this deployment is live.",
                ));
            }
            Err(api_keys::Refused::WrongMode(api_keys::Mode::Live)) => {
                return Err(ApiError::unauthorized(
                    "api_key_wrong_mode",
                    "This is a live key (pb_live_): it does not work on the sandbox.",
                ));
            }
        };
        limiter
            .check(&owner.key_id)
            .map_err(ApiError::rate_limited)?;
        let now = state.clocks.now_for(&state.db, &owner.merchant_id).await?;
        Ok(Merchant {
            id: owner.merchant_id,
            now,
            livemode: mode.is_live(),
        })
    }
}

fn bearer(req: &HttpRequest) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::unauthorized(
            "api_key_missing",
            "No API key provided: send `Authorization: Bearer <key>`.",
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim())
}
