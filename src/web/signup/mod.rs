//! The hosted signup pages, `/s/{link}`: a plan's public page where a
//! customer subscribes, either from their node (a subscribe code for
//! `pushbill payer subscribe`) or by paying each invoice themselves (email,
//! then the first invoice's BOLT11). Server-rendered (askama); the one
//! script (static/js/signup.js) only polls the status endpoints and copies
//! text. Handlers are thin: the rules are `billing::signup`'s.
//! Every POST carries a CSRF token ([`csrf::guard`]).

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, LOCATION};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

mod code;
mod csrf;
mod invoice;
mod plan;

use crate::billing::signup::{self, Page, Throttled};
use crate::context::Context;
use crate::error::Error;
use crate::web::browser::{ErrorPage, Refused, retry_after};

const STYLESHEET: &str = include_str!("../../../static/css/signup.css");
pub const STYLESHEET_PATH: &str = "/static/css/signup.css";
const SCRIPT: &str = include_str!("../../../static/js/signup.js");
pub const SCRIPT_PATH: &str = "/static/js/signup.js";

pub fn scope() -> actix_web::Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::scope("/s")
        .wrap(from_fn(csrf::guard))
        .app_data(web::FormConfig::default().error_handler(|e, _| {
            PageError::Invalid(format!("The form could not be read: {e}")).into()
        }))
        .route("/{link}", web::get().to(plan::page))
        .route("/{link}/subscribe", web::post().to(plan::subscribe))
        .route(
            "/{link}/subscribe_wallet",
            web::post().to(plan::subscribe_wallet),
        )
        .route("/{link}/welcome", web::get().to(plan::welcome))
        .route("/{link}/codes", web::post().to(code::create))
        .route("/{link}/codes/{code}", web::get().to(code::page))
        .route("/{link}/codes/{code}/status", web::get().to(code::status))
        .route("/{link}/invoices/{token}", web::get().to(invoice::page))
        .route(
            "/{link}/invoices/{token}/status",
            web::get().to(invoice::status),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(PageError::NotFound)
        }))
}

/// GET /static/css/signup.css
pub async fn stylesheet() -> HttpResponse {
    crate::web::browser::asset("text/css; charset=utf-8", STYLESHEET)
}

/// GET /static/js/signup.js
pub async fn script() -> HttpResponse {
    crate::web::browser::asset("text/javascript; charset=utf-8", SCRIPT)
}

/// What every signup page shows around its content.
pub struct Shell {
    /// The pay page's stylesheet (the look), then the signup pages' own.
    pub base_stylesheet: &'static str,
    pub stylesheet: &'static str,
    pub script: &'static str,
    pub sandbox: bool,
    /// The merchant's name, made safe to show (bidi overrides neutralised;
    /// the templates escape HTML).
    pub merchant_name: String,
    /// The page's own address, `/s/{link}`.
    pub home: String,
}

impl Shell {
    fn new(state: &Context, page: &Page) -> Self {
        Self {
            base_stylesheet: super::pay::STYLESHEET_PATH,
            stylesheet: STYLESHEET_PATH,
            script: SCRIPT_PATH,
            sandbox: crate::web::browser::sandbox(state),
            merchant_name: super::dashboard::display(&page.merchant.name),
            home: format!("/s/{}", page.plan.signup_link),
        }
    }
}

/// A rendered page. Its address is the key to it: kept out of caches,
/// referrers and search engines.
fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    crate::web::browser::private_page(status, page.render(), "signup page")
}

/// A status endpoint's answer: `{"state": "..."}`, never cached.
fn status_json(state: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "state": state }))
}

/// 303 to `location`.
fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, location.to_owned()))
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .finish()
}

/// The page behind the address's link, or the 404 page.
async fn load(state: &Context, link: &str) -> Result<Page, PageError> {
    signup::page(&state.db, link)
        .await?
        .ok_or(PageError::NotFound)
}

/// A page that cannot be shown: 404 for an unknown link or an archived
/// plan (the same page: nothing tells them apart), 400 for a form that
/// cannot be read, 403 without the CSRF token, 429 when throttled.
#[derive(Debug)]
pub enum PageError {
    NotFound,
    Invalid(String),
    Forbidden(String),
    Throttled(Throttled),
    Unavailable(String),
    Internal,
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[derive(Template)]
#[template(path = "signup/message.html")]
struct MessagePage {
    shell: Shell,
    title: &'static str,
    message: String,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::Invalid(_) => StatusCode::BAD_REQUEST,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
                "Page not found",
                "This signup link is not valid, or the plan no longer takes new subscriptions. \
                 Please ask the merchant for a current link."
                    .to_owned(),
            ),
            PageError::Invalid(m) => ("That did not work", m.clone()),
            PageError::Forbidden(m) => ("Refused", m.clone()),
            PageError::Throttled(t) => (
                "Too many attempts",
                format!(
                    "Too many signups were tried here recently. Please try again in {} minutes.",
                    (t.wait.num_seconds() + 59) / 60
                ),
            ),
            PageError::Unavailable(m) => ("Not available right now", m.clone()),
            PageError::Internal => (
                "Something went wrong",
                "An internal error occurred. It has been logged; please try again in a minute."
                    .to_owned(),
            ),
        };
        let mut res = html(
            self.status_code(),
            &MessagePage {
                shell: Shell {
                    base_stylesheet: super::pay::STYLESHEET_PATH,
                    stylesheet: STYLESHEET_PATH,
                    script: SCRIPT_PATH,
                    sandbox,
                    merchant_name: String::new(),
                    home: String::new(),
                },
                title,
                message,
            },
        );
        if let PageError::Throttled(t) = self {
            retry_after(&mut res, t.wait);
        }
        res
    }
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { .. } => PageError::NotFound,
            Error::Invalid { param, message } => PageError::Invalid(format!("{param}: {message}")),
            Error::Conflict { message, .. } => PageError::Unavailable(message),
            Error::Database(_) | Error::Corrupt(_) => {
                tracing::error!(error = %e, "signup page request failed");
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
