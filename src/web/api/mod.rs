//! The merchants' REST API, /v1. Handlers are thin: extract, call one
//! service function, map the result. Errors are JSON (see [`error`]).

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer};

mod api_keys;
pub mod auth;
mod customers;
pub mod error;
mod events;
mod idempotency;
mod invoices;
pub mod json;
pub mod pagination;
mod plans;
mod subscriptions;
mod test_clock;
mod webhook_endpoints;

use error::ApiError;

/// The `{id}` path segment.
pub type PathId = web::Path<String>;

pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/v1")
        .wrap(from_fn(idempotency::middleware))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::invalid("parameter_invalid", None, &e.to_string()).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|e, _| {
            ApiError::invalid("parameter_invalid", None, &e.to_string()).into()
        }))
        .route("/plans", web::post().to(plans::create))
        .route("/plans", web::get().to(plans::list))
        .route("/plans/{id}", web::get().to(plans::get))
        .route("/plans/{id}", web::post().to(plans::update))
        .route("/plans/{id}/archive", web::post().to(plans::archive))
        .route("/customers", web::post().to(customers::create))
        .route("/customers", web::get().to(customers::list))
        .route("/customers/{id}", web::get().to(customers::get))
        .route("/customers/{id}", web::post().to(customers::update))
        .route("/customers/{id}", web::delete().to(customers::delete))
        .route("/subscriptions", web::post().to(subscriptions::create))
        .route("/subscriptions", web::get().to(subscriptions::list))
        .route("/subscriptions/{id}", web::get().to(subscriptions::get))
        .route("/subscriptions/{id}", web::post().to(subscriptions::update))
        .route(
            "/subscriptions/{id}/cancel",
            web::post().to(subscriptions::cancel),
        )
        .route(
            "/subscriptions/{id}/pause",
            web::post().to(subscriptions::pause),
        )
        .route(
            "/subscriptions/{id}/resume",
            web::post().to(subscriptions::resume),
        )
        .route("/invoices", web::post().to(invoices::create))
        .route("/invoices", web::get().to(invoices::list))
        .route("/invoices/{id}", web::get().to(invoices::get))
        .route("/invoices/{id}/void", web::post().to(invoices::void))
        .route(
            "/invoices/{id}/payment_requests",
            web::get().to(invoices::payment_requests),
        )
        .route("/events", web::get().to(events::list))
        .route("/events/{id}", web::get().to(events::get))
        .route("/api_keys", web::get().to(api_keys::list))
        .route("/api_keys", web::post().to(api_keys::create))
        .route("/api_keys/{id}/revoke", web::post().to(api_keys::revoke))
        .route("/test_clock/advance", web::post().to(test_clock::advance))
        .route(
            "/webhook_endpoints",
            web::post().to(webhook_endpoints::create),
        )
        .route("/webhook_endpoints", web::get().to(webhook_endpoints::list))
        .route(
            "/webhook_endpoints/{id}",
            web::get().to(webhook_endpoints::get),
        )
        .route(
            "/webhook_endpoints/{id}",
            web::post().to(webhook_endpoints::update),
        )
        .route(
            "/webhook_endpoints/{id}",
            web::delete().to(webhook_endpoints::delete),
        )
        .route(
            "/webhook_endpoints/{id}/rotate_secret",
            web::post().to(webhook_endpoints::rotate_secret),
        )
        .route(
            "/webhook_endpoints/{id}/deliveries",
            web::get().to(webhook_endpoints::deliveries),
        )
        .route(
            "/webhook_deliveries/{id}/replay",
            web::post().to(webhook_endpoints::replay),
        )
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
