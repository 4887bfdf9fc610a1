//! The web role: every HTTP route in one place, thin handlers.

use actix_web::web;

pub mod api;
mod health;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(api::scope());
}
