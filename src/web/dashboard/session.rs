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
use actix_web::cookie::{Cookie, time};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use chrono::Utc;
use futures::future::LocalBoxFuture;

use super::PageError;
use crate::auth::sessions::{self, SignedIn};
use crate::context::Context;
use crate::store::{merchant_users, merchants};
use crate::web::browser::Cookies;

pub const SESSION_COOKIE: &str = "pushbill_session";
pub const CSRF_COOKIE: &str = "pushbill_csrf";
/// This part's cookies (`/dashboard`) and the CSRF tokens derived from them.
pub const COOKIES: Cookies = Cookies {
    path: "/dashboard",
    session: Some(SESSION_COOKIE),
    csrf: CSRF_COOKIE,
};

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
                sandbox: crate::web::browser::sandbox(&state),
            })
        })
    }
}

/// The session cookie for `token`.
pub fn session_cookie(state: &Context, token: String) -> Cookie<'static> {
    let hours = i64::from(state.settings.dashboard.session_hours);
    COOKIES.cookie(state, SESSION_COOKIE, token, time::Duration::hours(hours))
}

/// A cookie that removes the session cookie.
pub fn removed_session_cookie(state: &Context) -> Cookie<'static> {
    COOKIES.cookie(state, SESSION_COOKIE, String::new(), time::Duration::ZERO)
}

/// Runs before every /dashboard handler: refuses a NUL character in the
/// address or a form (400), and a POST whose `csrf` field is missing or
/// wrong (403). The form is handed on to the handler untouched.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    crate::web::browser::guard::<PageError>(COOKIES, true, req, next).await
}
