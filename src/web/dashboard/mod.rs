//! The merchant dashboard, `/dashboard`: server-rendered pages (askama) and
//! plain forms. Handlers are thin: they call the same service functions as
//! the API (`billing::lifecycle`, `catalog`, `auth`) and render the result.
//! Every POST carries a CSRF token ([`session::guard`]); every page but the
//! sign-in ones needs a session ([`session::Signed`]). No inline script or
//! style (the CSP forbids them); the one script is served from /static.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

mod accounts;
mod api_keys;
mod customers;
mod email_settings;
mod emails;
mod fiat_settings;
mod invoices;
mod node;
mod overview;
mod plans;
mod rows;
mod sandbox;
mod session;
mod subscriptions;
mod view;
mod webhooks;

use crate::error::Error;
use crate::web::browser::{ErrorPage, Refused};

// What the hosted signup pages share with the dashboard.
pub(super) use rows::schedule_text;
pub use session::SESSION_COOKIE;
pub(super) use view::{FieldError, display};

const STYLESHEET: &str = include_str!("../../../static/css/dashboard.css");
pub const STYLESHEET_PATH: &str = "/static/css/dashboard.css";
const SCRIPT: &str = include_str!("../../../static/js/dashboard.js");
pub const SCRIPT_PATH: &str = "/static/js/dashboard.js";

pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/dashboard")
        .wrap(from_fn(session::guard))
        .app_data(web::FormConfig::default().error_handler(|e, _| {
            PageError::Invalid(format!("The form could not be read: {e}")).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            PageError::Invalid(format!(
                "The address has a parameter that is not understood: {e}"
            ))
            .into()
        }))
        .route("", web::get().to(overview::page))
        .route("/signup", web::get().to(accounts::signup_page))
        .route("/signup", web::post().to(accounts::signup))
        .route("/login", web::get().to(accounts::login_page))
        .route("/login", web::post().to(accounts::login))
        .route("/logout", web::post().to(accounts::logout))
        .route("/team", web::get().to(accounts::team_page))
        .route("/team/invites", web::post().to(accounts::invite))
        .route("/invite/{token}", web::get().to(accounts::invite_page))
        .route("/invite/{token}", web::post().to(accounts::accept_invite))
        .route("/plans", web::get().to(plans::list))
        .route("/plans", web::post().to(plans::create))
        .route("/plans/new", web::get().to(plans::new_page))
        .route("/plans/{id}", web::get().to(plans::page))
        .route("/plans/{id}", web::post().to(plans::update))
        .route("/plans/{id}/archive", web::post().to(plans::archive))
        .route("/customers", web::get().to(customers::list))
        .route("/customers/{id}", web::get().to(customers::page))
        .route(
            "/customers/{id}/portal_link",
            web::post().to(customers::email_portal_link),
        )
        .route("/subscriptions", web::get().to(subscriptions::list))
        .route("/subscriptions/{id}", web::get().to(subscriptions::page))
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
        .route(
            "/subscriptions/{id}/plan",
            web::post().to(subscriptions::change_plan),
        )
        .route("/invoices", web::get().to(invoices::list))
        .route("/invoices/{id}", web::get().to(invoices::page))
        .route("/invoices/{id}/void", web::post().to(invoices::void))
        .route("/invoices/{id}/push", web::post().to(invoices::push_again))
        .route("/webhooks", web::get().to(webhooks::list))
        .route("/webhooks", web::post().to(webhooks::create))
        .route(
            "/webhooks/inspector",
            web::get().to(webhooks::inspector_page),
        )
        .route(
            "/webhooks/inspector",
            web::post().to(webhooks::add_inspector),
        )
        .route("/webhooks/{id}", web::get().to(webhooks::page))
        .route("/webhooks/{id}/rotate", web::post().to(webhooks::rotate))
        .route(
            "/webhooks/{id}/enabled",
            web::post().to(webhooks::set_enabled),
        )
        .route("/webhooks/{id}/delete", web::post().to(webhooks::delete))
        .route(
            "/webhook_deliveries/{id}",
            web::get().to(webhooks::delivery),
        )
        .route(
            "/webhook_deliveries/{id}/replay",
            web::post().to(webhooks::replay),
        )
        .route("/emails", web::get().to(emails::list))
        .route("/emails/{id}", web::get().to(emails::page))
        .route("/emails/{id}/html", web::get().to(emails::html_part))
        .route("/settings/email", web::get().to(email_settings::page))
        .route("/settings/email", web::post().to(email_settings::update))
        .route("/settings/fiat", web::get().to(fiat_settings::page))
        .route("/settings/fiat", web::post().to(fiat_settings::update))
        .route("/node", web::get().to(node::page))
        .route("/node/channels", web::post().to(node::open))
        .route("/node/channels/{id}/close", web::post().to(node::close))
        .route("/sandbox", web::get().to(sandbox::page))
        .route("/sandbox/clock", web::post().to(sandbox::advance))
        .route("/sandbox/demo", web::post().to(sandbox::start_demo))
        .route("/developers", web::get().to(api_keys::page))
        .route("/developers/keys", web::post().to(api_keys::create))
        .route(
            "/developers/keys/{id}/revoke",
            web::post().to(api_keys::revoke),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(PageError::NotFound)
        }))
}

/// GET /static/css/dashboard.css
pub async fn stylesheet() -> HttpResponse {
    crate::web::browser::asset("text/css; charset=utf-8", STYLESHEET)
}

/// GET /static/js/dashboard.js
pub async fn script() -> HttpResponse {
    crate::web::browser::asset("text/javascript; charset=utf-8", SCRIPT)
}

/// A rendered page (never cached: it shows a merchant's data).
pub fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header(("X-Robots-Tag", "noindex"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "dashboard: cannot render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// 303 to `location`: where a form's POST lands.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}

/// A page that cannot be shown: 404 for another merchant's or an unknown
/// object, 400/409 for an action refused, 403 for a missing CSRF token.
#[derive(Debug)]
pub enum PageError {
    NotFound,
    Invalid(String),
    Conflict(String),
    Forbidden(String),
    Internal,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[derive(Template)]
#[template(path = "dashboard/error.html")]
struct ErrorTemplate {
    stylesheet: &'static str,
    sandbox: bool,
    title: &'static str,
    message: String,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Invalid(_) => StatusCode::BAD_REQUEST,
            PageError::Conflict(_) => StatusCode::CONFLICT,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.page(false)
    }
}

impl From<Refused> for PageError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Invalid(message) => PageError::Invalid(message),
            Refused::Forbidden(message) => PageError::Forbidden(message),
        }
    }
}

impl ErrorPage for PageError {
    fn page(&self, sandbox: bool) -> HttpResponse {
        let (title, message) = match self {
            PageError::NotFound => (
                "Not found",
                "There is no such page, or it belongs to another account.".to_owned(),
            ),
            PageError::Invalid(m) => ("That did not work", m.clone()),
            PageError::Conflict(m) => ("That cannot be done now", m.clone()),
            PageError::Forbidden(m) => ("Refused", m.clone()),
            PageError::Internal => (
                "Something went wrong",
                "An internal error occurred. It has been logged; please try again in a minute."
                    .to_owned(),
            ),
        };
        html(
            self.status_code(),
            &ErrorTemplate {
                stylesheet: STYLESHEET_PATH,
                sandbox,
                title,
                message,
            },
        )
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { .. } => PageError::NotFound,
            Error::Invalid { param, message } => PageError::Invalid(format!("{param}: {message}")),
            Error::Conflict { message, .. } => PageError::Conflict(message),
            Error::Database(_) | Error::Corrupt(_) => {
                tracing::error!(error = %e, "dashboard request failed");
                PageError::Internal
            }
        }
    }
}

impl From<sea_orm::DbErr> for PageError {
    fn from(e: sea_orm::DbErr) -> Self {
        Error::Database(e).into()
    }
}

pub type PageResult = Result<HttpResponse, PageError>;
