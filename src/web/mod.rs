//! The web role: every HTTP route in one place, thin handlers.

use std::sync::Arc;

use actix_web::web;
use ln_node::Node;

use self::api::rate_limit::RateLimiter;
use crate::demo::runs::Runs;

pub mod api;
mod browser;
mod dashboard;
mod docs;
mod headers;
mod health;
mod inspector;
mod pay;
mod portal;
mod qr;
mod signup;

pub use self::dashboard::SESSION_COOKIE as DASHBOARD_SESSION_COOKIE;
pub use self::headers::security_headers;

/// What only the web role holds, beside the [`crate::context::Context`]
/// every role takes. Both are app data; a handler asks for what it needs.
#[derive(Clone, Debug)]
pub struct WebState {
    /// The Lightning node, when this process also runs the node role.
    pub node: Option<Arc<Node>>,
    /// Requests per API key, shared by every HTTP worker of this process.
    pub rate_limiter: Arc<RateLimiter>,
    /// The sandbox demo's runs started from the dashboard, with their payer
    /// processes: stopped with `serve` (`Application::run_until_stopped`).
    pub demos: Arc<Runs>,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/docs/api", web::get().to(docs::api_reference))
        .route(docs::STYLESHEET_PATH, web::get().to(docs::stylesheet))
        .route("/pay/{token}", web::get().to(pay::page))
        .route("/pay/{token}/refresh", web::post().to(pay::refresh))
        .service(
            web::resource("/sandbox/inspector/{merchant}")
                .app_data(web::PayloadConfig::new(1024 * 1024))
                .route(web::post().to(inspector::receive)),
        )
        .route(pay::STYLESHEET_PATH, web::get().to(pay::stylesheet))
        .route(
            dashboard::STYLESHEET_PATH,
            web::get().to(dashboard::stylesheet),
        )
        .route(dashboard::SCRIPT_PATH, web::get().to(dashboard::script))
        .route(portal::STYLESHEET_PATH, web::get().to(portal::stylesheet))
        .route(signup::STYLESHEET_PATH, web::get().to(signup::stylesheet))
        .route(signup::SCRIPT_PATH, web::get().to(signup::script))
        .service(dashboard::scope())
        .service(portal::scope())
        .service(signup::scope())
        .service(api::scope());
}
