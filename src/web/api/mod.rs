//! The merchants' REST API, /v1. Handlers are thin: extract, call one
//! service function, map the result. Errors are JSON (see [`error`]).

use actix_web::dev::Payload;
use actix_web::middleware::from_fn;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures::future::LocalBoxFuture;
use serde::{Deserialize, Deserializer};

mod api_keys;
pub mod auth;
mod customers;
mod email_settings;
pub mod error;
mod events;
mod fiat_settings;
mod grants;
mod idempotency;
mod invoices;
pub mod json;
mod node;
pub mod openapi;
pub mod pagination;
mod payment_methods;
mod plans;
mod portal_links;
mod query;
pub mod rate_limit;
mod subscribe_codes;
mod subscriptions;
mod test_clock;
mod webhook_endpoints;

use crate::domain::text;
use error::ApiError;

/// The `{id}` path segment (percent-decoded). One holding a NUL character
/// (`%00`), which the database could not compare, is a 400 naming `id`
/// (after the key is checked: without a valid one it is a 401).
pub struct PathId(String);

impl PathId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl std::ops::Deref for PathId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl FromRequest for PathId {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let path = web::Path::<String>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let id = path.await?.into_inner();
            if text::has_nul(&id) {
                auth::authenticate(&req).await?;
                return Err(ApiError::invalid(
                    "parameter_invalid",
                    Some("id"),
                    &format!("id: {}", text::NUL_REFUSED),
                )
                .into());
            }
            Ok(PathId(id))
        })
    }
}

/// The /v1 scope. Every route is a handler annotated with
/// `#[utoipa::path]` and registered with `.service(handler)`, which puts it
/// in the OpenAPI document at the same time: a route cannot be served
/// without being documented. (tests/api/api_openapi.rs checks both ways.)
pub fn scope() -> utoipa_actix_web::scope::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope("/v1")
        .wrap(from_fn(idempotency::middleware))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::invalid("parameter_invalid", None, &e.to_string()).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|e, _| {
            ApiError::invalid("parameter_invalid", None, &e.to_string()).into()
        }))
        .service(plans::create)
        .service(plans::list)
        .service(plans::get)
        .service(plans::update)
        .service(plans::archive)
        .service(customers::create)
        .service(customers::list)
        .service(customers::get)
        .service(customers::update)
        .service(customers::delete)
        .service(portal_links::create)
        .service(subscriptions::create)
        .service(subscriptions::list)
        .service(subscriptions::get)
        .service(subscriptions::update)
        .service(subscriptions::cancel)
        .service(subscriptions::pause)
        .service(subscriptions::resume)
        .service(payment_methods::get)
        .service(payment_methods::set)
        .service(invoices::create)
        .service(invoices::list)
        .service(invoices::get)
        .service(invoices::void)
        .service(invoices::payment_requests)
        .service(subscribe_codes::create)
        .service(grants::list)
        .service(grants::get)
        .service(events::list)
        .service(events::get)
        .service(api_keys::list)
        .service(api_keys::create)
        .service(api_keys::revoke)
        .service(email_settings::get)
        .service(email_settings::update)
        .service(fiat_settings::get)
        .service(fiat_settings::update)
        .service(test_clock::get)
        .service(test_clock::advance)
        .service(webhook_endpoints::create)
        .service(webhook_endpoints::list)
        .service(webhook_endpoints::get)
        .service(webhook_endpoints::update)
        .service(webhook_endpoints::delete)
        .service(webhook_endpoints::rotate_secret)
        .service(webhook_endpoints::deliveries)
        .service(webhook_endpoints::replay)
        .service(webhook_endpoints::attempts)
        .service(node::get)
        .service(node::peers)
        .service(node::connect)
        .service(node::disconnect)
        .service(node::channels)
        .service(node::open)
        .service(node::close)
        .service(openapi::get)
        .default_service(web::to(unknown_route))
}

async fn unknown_route(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found(&format!(
        "Unrecognized request URL ({} {}).",
        req.method(),
        req.path()
    )))
}

/// For patch fields: absent is `None`, `null` is `Some(None)`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
