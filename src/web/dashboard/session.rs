//! Who is signed in, the cookies, and the CSRF guard.
//!
//! - The session cookie holds the session's token (HttpOnly, SameSite=Lax,
//!   Secure when `app.base_url` is HTTPS); the database holds its hash.
//! - Every form carries a CSRF token: for a signed-in browser it is derived
//!   from the session's token, otherwise from a random `pushbill_csrf`
//!   cookie set with the sign-in and sign-up forms. [`guard`] checks it on
//!   every POST under /dashboard before any handler runs, and refuses input
//!   holding a NUL character (which the database cannot compare).
//! - Sessions and the login throttle use wall-clock time, not the sandbox's
//!   test clock: moving billing time a month must not sign anyone out.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use futures::future::LocalBoxFuture;

use super::PageError;
use crate::auth::sessions::{self, SignedIn};
use crate::config::Network;
use crate::context::Context;
use crate::store::{merchant_users, merchants};

pub const SESSION_COOKIE: &str = "pushbill_session";
pub const CSRF_COOKIE: &str = "pushbill_csrf";
/// The form field holding the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The signed-in user of a dashboard request. Without a live session the
/// request is sent to the sign-in page.
#[derive(Debug, Clone)]
pub struct Signed {
    pub user: merchant_users::Model,
    pub merchant: merchants::Model,
    /// The CSRF token for this page's forms.
    pub csrf: String,
    pub sandbox: bool,
    /// The merchant's billing time (its sandbox clock in the sandbox).
    pub now: chrono::DateTime<Utc>,
}

impl Signed {
    pub fn merchant_id(&self) -> &str {
        &self.merchant.id
    }
}

/// Sends a browser without a session to the sign-in page.
#[derive(Debug)]
pub enum NotSignedIn {
    Redirect,
    Failed(PageError),
}

impl std::fmt::Display for NotSignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not signed in")
    }
}

impl ResponseError for NotSignedIn {
    fn status_code(&self) -> actix_web::http::StatusCode {
        match self {
            NotSignedIn::Redirect => actix_web::http::StatusCode::SEE_OTHER,
            NotSignedIn::Failed(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            NotSignedIn::Redirect => super::see_other("/dashboard/login"),
            NotSignedIn::Failed(e) => e.error_response(),
        }
    }
}

impl FromRequest for Signed {
    type Error = NotSignedIn;
    type Future = LocalBoxFuture<'static, Result<Self, NotSignedIn>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<Context>>().cloned();
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else {
                return Err(NotSignedIn::Redirect);
            };
            let found = sessions::find(&state.db, Utc::now(), &token)
                .await
                .map_err(|e| NotSignedIn::Failed(e.into()))?;
            let Some(SignedIn { user, merchant, .. }) = found else {
                return Err(NotSignedIn::Redirect);
            };
            let now = state
                .clocks
                .now_for(&state.db, &merchant.id)
                .await
                .map_err(|e| NotSignedIn::Failed(crate::error::Error::from(e).into()))?;
            Ok(Signed {
                now,
                user,
                merchant,
                csrf: sessions::csrf_token(&token),
                sandbox: state.settings.app.network == Network::Sandbox,
            })
        })
    }
}

/// The session cookie for `token`.
pub fn session_cookie(state: &Context, token: String) -> Cookie<'static> {
    let hours = i64::from(state.settings.dashboard.session_hours);
    cookie(state, SESSION_COOKIE, token, time::Duration::hours(hours))
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
        .path("/dashboard")
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

/// The client's IP address, for the login throttle (the TCP peer: behind a
/// reverse proxy every client shares the proxy's address).
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Runs before every /dashboard handler: refuses a NUL character in the
/// address or a form (400), and a POST whose `csrf` field is missing or
/// wrong (403). The form is handed on to the handler untouched.
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
        let mut sent = None;
        for (key, value) in url::form_urlencoded::parse(&body) {
            if crate::domain::text::has_nul(&value) || crate::domain::text::has_nul(&key) {
                let refused =
                    PageError::Invalid(format!("{key}: {}", crate::domain::text::NUL_REFUSED));
                return Ok(req
                    .into_response(refused.error_response())
                    .map_into_right_body());
            }
            if key == CSRF_FIELD {
                sent = Some(value.into_owned());
            }
        }
        let expected = expected_csrf(req.request());
        let ok = matches!((&sent, &expected), (Some(s), Some(e)) if sessions::same_token(s, e));
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
