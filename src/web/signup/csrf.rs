//! The signup pages' CSRF tokens. Nobody is signed in on them, so a form's
//! token is derived from a random `pushbill_signup_csrf` cookie (HttpOnly,
//! SameSite=Lax, path `/s`, Secure over HTTPS) set with the page; [`guard`]
//! checks it on every POST under /s before any handler runs, and refuses a
//! NUL character in the address. A NUL in a form field is the handler's to
//! report at its field.

use actix_web::HttpRequest;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::Cookie;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

use super::PageError;
use crate::context::Context;
use crate::web::browser::Cookies;

pub const CSRF_COOKIE: &str = "pushbill_signup_csrf";
/// The signup pages' cookie (`/s`): only the CSRF one, nobody signs in.
pub const COOKIES: Cookies = Cookies {
    path: "/s",
    session: None,
    csrf: CSRF_COOKIE,
};

/// The token for this page's forms, and the cookie to set when the browser
/// has none yet.
pub fn token(state: &Context, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    COOKIES.anonymous_csrf(state, req)
}

/// Runs before every /s handler: 400 for a NUL in the address, 403 for a
/// POST without the right `csrf` field. The form is handed on untouched.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    crate::web::browser::guard::<PageError>(COOKIES, false, req, next).await
}
