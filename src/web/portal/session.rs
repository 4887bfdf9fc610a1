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
use actix_web::cookie::{Cookie, time};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, web};
use chrono::Utc;
use futures::future::LocalBoxFuture;

use super::PortalError;
use crate::auth::portal::{self, PortalSession, SESSION_LIFETIME};
use crate::auth::sessions;
use crate::context::Context;
use crate::web::browser::Cookies;

pub const SESSION_COOKIE: &str = "pushbill_portal";
pub const CSRF_COOKIE: &str = "pushbill_portal_csrf";
/// This part's cookies (`/portal`) and the CSRF tokens derived from them.
pub const COOKIES: Cookies = Cookies {
    path: "/portal",
    session: Some(SESSION_COOKIE),
    csrf: CSRF_COOKIE,
};

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
    COOKIES.cookie(state, SESSION_COOKIE, token, age)
}

/// A cookie that removes the session cookie.
pub fn removed_session_cookie(state: &Context) -> Cookie<'static> {
    COOKIES.cookie(state, SESSION_COOKIE, String::new(), time::Duration::ZERO)
}

/// Runs before every /portal handler: refuses a NUL character in the
/// address (400) and a POST whose `csrf` field is missing or wrong (403).
/// The form is handed on to the handler untouched.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    crate::web::browser::guard::<PortalError>(COOKIES, false, req, next).await
}
