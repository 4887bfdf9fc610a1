//! The customer portal, `/portal` (docs/portal.md): a customer asks for a
//! sign-in link on the merchant's page `/portal/{merchant}`
//! ([`access`]), uses it (`/portal/login/{token}`), and sees and manages
//! their subscriptions and invoices at `/portal` ([`home`]). Handlers are
//! thin: they call `catalog::portal` (links), `billing::portal` (what is
//! shown and done) and `catalog::customers`. Every POST carries a CSRF
//! token ([`session::guard`]); the signed-in pages need a portal session
//! ([`session::Customer`]). No script; the look is the pay page's.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

mod access;
mod home;
mod session;

use crate::error::Error;
use crate::web::browser::{ErrorPage, Refused, retry_after};

const STYLESHEET: &str = include_str!("../../../static/css/portal.css");
pub const STYLESHEET_PATH: &str = "/static/css/portal.css";

pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    // The fixed paths first: `/{merchant}` matches any one segment.
    web::scope("/portal")
        .wrap(from_fn(session::guard))
        .app_data(web::FormConfig::default().error_handler(|e, _| {
            PortalError::Invalid(format!("The form could not be read: {e}")).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            PortalError::Invalid(format!(
                "The address has a parameter that is not understood: {e}"
            ))
            .into()
        }))
        .route("", web::get().to(home::page))
        .route("/login/{token}", web::get().to(access::login_page))
        .route("/login/{token}", web::post().to(access::login))
        .route("/logout", web::post().to(access::logout))
        .route("/email", web::post().to(home::update_email))
        .route(
            "/subscriptions/{id}/cancel",
            web::post().to(home::cancel_at_period_end),
        )
        .route(
            "/subscriptions/{id}/wallet",
            web::post().to(home::connect_wallet),
        )
        .route(
            "/subscriptions/{id}/wallet/remove",
            web::post().to(home::remove_wallet),
        )
        .route("/invoices/{id}/pay", web::get().to(home::pay))
        .route("/{merchant}", web::get().to(access::request_page))
        .route("/{merchant}", web::post().to(access::request))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(PortalError::NotFound)
        }))
}

/// GET /static/css/portal.css
pub async fn stylesheet() -> HttpResponse {
    crate::web::browser::asset("text/css; charset=utf-8", STYLESHEET)
}

/// What every portal page links: the pay page's stylesheet (the look) and
/// the portal's additions.
pub struct Styles {
    pub base: &'static str,
    pub portal: &'static str,
    pub sandbox: bool,
}

impl Styles {
    pub fn new(state: &crate::context::Context) -> Self {
        Self {
            base: super::pay::STYLESHEET_PATH,
            portal: STYLESHEET_PATH,
            sandbox: crate::web::browser::sandbox(state),
        }
    }
}

/// A rendered page: never cached, never indexed, and no referrer (sign-in
/// links carry a token).
pub fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    crate::web::browser::private_page(status, page.render(), "portal")
}

/// 303 to `location`: where a form's POST lands.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish()
}

/// A page that cannot be shown: 404 for another customer's or an unknown
/// object, 401 without a session, 400/409 for an action refused, 403 for a
/// missing CSRF token, 429 when throttled.
#[derive(Debug)]
pub enum PortalError {
    NotFound,
    SignedOut,
    Invalid(String),
    Conflict(String),
    Forbidden(String),
    /// Its message, and how long until it may be tried again.
    Throttled(String, chrono::Duration),
    Internal,
}

impl std::fmt::Display for PortalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[derive(Template)]
#[template(path = "portal/message.html")]
pub struct MessagePage {
    pub styles: Styles,
    pub id: &'static str,
    pub title: &'static str,
    pub message: String,
    /// A link to offer (where, and its words).
    pub link: Option<(String, &'static str)>,
}

impl ResponseError for PortalError {
    fn status_code(&self) -> StatusCode {
        match self {
            PortalError::NotFound => StatusCode::NOT_FOUND,
            PortalError::SignedOut => StatusCode::UNAUTHORIZED,
            PortalError::Invalid(_) => StatusCode::BAD_REQUEST,
            PortalError::Conflict(_) => StatusCode::CONFLICT,
            PortalError::Forbidden(_) => StatusCode::FORBIDDEN,
            PortalError::Throttled(..) => StatusCode::TOO_MANY_REQUESTS,
            PortalError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.page(false)
    }
}

impl From<Refused> for PortalError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Invalid(message) => PortalError::Invalid(message),
            Refused::Forbidden(message) => PortalError::Forbidden(message),
        }
    }
}

impl ErrorPage for PortalError {
    fn page(&self, sandbox: bool) -> HttpResponse {
        let (id, title, message) = match self {
            PortalError::NotFound => (
                "not-found",
                "Not found",
                "There is no such page, or it is not yours.".to_owned(),
            ),
            PortalError::SignedOut => (
                "signed-out",
                "You are signed out",
                "Your session has ended. Use the \"Manage your subscription\" link in any email from the merchant to ask for a new sign-in link.".to_owned(),
            ),
            PortalError::Invalid(m) => ("invalid", "That did not work", m.clone()),
            PortalError::Conflict(m) => ("conflict", "That cannot be done now", m.clone()),
            PortalError::Forbidden(m) => ("forbidden", "Refused", m.clone()),
            PortalError::Throttled(m, _) => ("throttled", "Too many requests", m.clone()),
            PortalError::Internal => (
                "internal",
                "Something went wrong",
                "An internal error occurred. It has been logged; please try again in a minute."
                    .to_owned(),
            ),
        };
        let styles = Styles {
            base: super::pay::STYLESHEET_PATH,
            portal: STYLESHEET_PATH,
            sandbox,
        };
        let mut res = html(
            self.status_code(),
            &MessagePage {
                styles,
                id,
                title,
                message,
                link: None,
            },
        );
        if let PortalError::Throttled(_, wait) = self {
            retry_after(&mut res, *wait);
        }
        res
    }
}

impl From<Error> for PortalError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { .. } => PortalError::NotFound,
            Error::Invalid { param, message } => {
                PortalError::Invalid(format!("{param}: {message}"))
            }
            Error::Conflict { message, .. } => PortalError::Conflict(message),
            Error::Database(_) | Error::Corrupt(_) => {
                tracing::error!(error = %e, "portal request failed");
                PortalError::Internal
            }
        }
    }
}

impl From<sea_orm::DbErr> for PortalError {
    fn from(e: sea_orm::DbErr) -> Self {
        Error::Database(e).into()
    }
}

pub type PortalResult = Result<HttpResponse, PortalError>;
