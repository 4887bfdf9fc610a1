//! The portal's cookies, the signed-in customer, and the CSRF guard: the
//! dashboard's scheme (web/dashboard/session.rs) on the portal's own
//! cookies, which are sent to /portal only.
//!
//! - The session cookie holds the portal session's token (HttpOnly,
//!   SameSite=Lax, Secure when `app.base_url` is HTTPS, ending with the
//!   session); the database holds its hash (`auth::portal`).
//! - Every form carries a CSRF token derived from the session's token, or,
//!   before sign-in, from a random `pushbill_portal_csrf` cookie.
//!   [`guard`] checks it on every POST under /portal before any handler
//!   runs. Form fields are otherwise handed on untouched: the handlers
//!   answer bad input (a NUL character too) with a message at the field.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};
use chrono::Utc;
use futures::future::LocalBoxFuture;

use super::PortalError;
use crate::auth::portal::{self, PortalSession, SESSION_LIFETIME};
use crate::auth::sessions;
use crate::context::Context;

pub const SESSION_COOKIE: &str = "pushbill_portal";
pub const CSRF_COOKIE: &str = "pushbill_portal_csrf";
/// The form field holding the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The signed-in customer of a portal request; without a live session the
/// request gets the "signed out" page (401).
#[derive(Debug, Clone)]
pub struct Customer {
    pub session: PortalSession,
    /// The CSRF token for this page's forms.
    pub csrf: String,
    /// The merchant's billing time (its sandbox clock in the sandbox).
    pub now: chrono::DateTime<Utc>,
}

impl Customer {
    pub fn merchant_id(&self) -> &str {
        &self.session.merchant.id
    }

    pub fn customer_id(&self) -> &str {
        &self.session.customer.id
    }
}

impl FromRequest for Customer {
    type Error = PortalError;
    type Future = LocalBoxFuture<'static, Result<Self, PortalError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<Context>>().cloned();
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else {
                return Err(PortalError::SignedOut);
            };
            let Some(session) = portal::find_session(&state.db, Utc::now(), &token).await? else {
                return Err(PortalError::SignedOut);
            };
            let now = state
                .clocks
                .now_for(&state.db, &session.merchant.id)
                .await?;
            Ok(Customer {
                session,
                csrf: sessions::csrf_token(&token),
                now,
            })
        })
    }
}

/// The session cookie for `token`.
pub fn session_cookie(state: &Context, token: String) -> Cookie<'static> {
    let age = time::Duration::seconds(SESSION_LIFETIME.num_seconds());
    cookie(state, SESSION_COOKIE, token, age)
}

/// A cookie that removes the session cookie.
pub fn removed_session_cookie(state: &Context) -> Cookie<'static> {
    cookie(state, SESSION_COOKIE, String::new(), time::Duration::ZERO)
}

fn cookie(
    state: &Context,
    name: &'static str,
    value: String,
    age: time::Duration,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/portal")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .max_age(age)
        .finish()
}

/// The CSRF token for a form shown to a browser that may not be signed in,
/// and the cookie to set when the browser has none yet.
pub fn anonymous_csrf(state: &Context, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(token) = expected_csrf(req) {
        return (token, None);
    }
    let seed = sessions::new_token();
    let token = sessions::csrf_token(&seed);
    let cookie = cookie(state, CSRF_COOKIE, seed, time::Duration::hours(12));
    (token, Some(cookie))
}

/// The CSRF token this browser's forms must carry: derived from its session
/// cookie, else from its CSRF cookie; `None` when it has neither.
fn expected_csrf(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION_COOKIE)
        .filter(|c| !c.value().is_empty())
        .or_else(|| req.cookie(CSRF_COOKIE))
        .map(|c| sessions::csrf_token(c.value()))
}

/// The client's IP address, for the link request throttle (the TCP peer:
/// behind a reverse proxy every client shares the proxy's address).
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Runs before every /portal handler: refuses a NUL character in the
/// address (400) and a POST whose `csrf` field is missing or wrong (403).
/// The form is handed on to the handler untouched.
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let uri = req.uri().to_string().to_ascii_lowercase();
    if uri.contains("%00") || uri.contains('\0') {
        let refused =
            PortalError::Invalid(format!("The address {}", crate::domain::text::NUL_REFUSED));
        return Ok(req
            .into_response(refused.error_response())
            .map_into_right_body());
    }
    if req.method() == Method::POST {
        let body = req.extract::<web::Bytes>().await?;
        let sent = url::form_urlencoded::parse(&body)
            .find(|(key, _)| key == CSRF_FIELD)
            .map(|(_, value)| value.into_owned());
        let expected = expected_csrf(req.request());
        let ok = matches!((&sent, &expected), (Some(s), Some(e)) if sessions::same_token(s, e));
        if !ok {
            let refused = PortalError::Forbidden(
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
