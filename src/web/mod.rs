//! The web role: every HTTP route in one place, thin handlers.

use actix_web::web;

pub mod api;
mod docs;
mod health;
mod pay;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/docs/api", web::get().to(docs::api_reference))
        .route(docs::STYLESHEET_PATH, web::get().to(docs::stylesheet))
        .route("/pay/{token}", web::get().to(pay::page))
        .route("/pay/{token}/refresh", web::post().to(pay::refresh))
        .route(pay::STYLESHEET_PATH, web::get().to(pay::stylesheet))
        .service(api::scope());
}
