//! The web role: every HTTP route in one place, thin handlers.

use actix_web::web;

pub mod api;
mod docs;
mod health;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/docs/api", web::get().to(docs::api_reference))
        .route(docs::STYLESHEET_PATH, web::get().to(docs::stylesheet))
        .service(api::scope());
}
