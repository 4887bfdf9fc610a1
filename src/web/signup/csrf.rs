//! The signup pages' CSRF tokens. Nobody is signed in on them, so a form's
//! token is derived from a random `pushbill_signup_csrf` cookie (HttpOnly,
//! SameSite=Lax, path `/s`, Secure over HTTPS) set with the page; [`guard`]
//! checks it on every POST under /s before any handler runs, and refuses a
//! NUL character in the address. A NUL in a form field is the handler's to
//! report at its field.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, ResponseError, web};

use super::PageError;
use crate::auth::sessions;
use crate::context::Context;

pub const CSRF_COOKIE: &str = "pushbill_signup_csrf";
/// The form field holding the token.
pub const CSRF_FIELD: &str = "csrf";

/// The token for this page's forms, and the cookie to set when the browser
/// has none yet.
pub fn token(state: &Context, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(token) = expected(req) {
        return (token, None);
    }
    let seed = sessions::new_token();
    let cookie = Cookie::build(CSRF_COOKIE, seed.clone())
        .path("/s")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .max_age(time::Duration::hours(12))
        .finish();
    (sessions::csrf_token(&seed), Some(cookie))
}

fn expected(req: &HttpRequest) -> Option<String> {
    req.cookie(CSRF_COOKIE)
        .filter(|c| !c.value().is_empty())
        .map(|c| sessions::csrf_token(c.value()))
}

/// Runs before every /s handler: 400 for a NUL in the address, 403 for a
/// POST without the right `csrf` field. The form is handed on untouched.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let uri = req.uri().to_string().to_ascii_lowercase();
    if uri.contains("%00") || uri.contains('\0') {
        let refused =
            PageError::Invalid(format!("The address {}", crate::domain::text::NUL_REFUSED));
        return Ok(req
            .into_response(refused.error_response())
            .map_into_right_body());
    }
    if req.method() == Method::POST {
        let body = req.extract::<web::Bytes>().await?;
        let sent = url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned());
        let ok = matches!((&sent, expected(req.request())), (Some(s), Some(e)) if sessions::same_token(s, &e));
        if !ok {
            let refused = PageError::Forbidden(
                "This form has expired or did not come from this site. Go back, reload the page and try again."
                    .to_owned(),
            );
            return Ok(req
                .into_response(refused.error_response())
                .map_into_right_body());
        }
        req.set_payload(Payload::from(body));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
