//! Signing in: the merchant's portal page where a customer asks for a
//! link, the link's page (a button that uses it, so a mail scanner opening
//! the link does not spend it), and signing out.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::session::{self, Customer};
use super::{MessagePage, PortalError, PortalResult, Styles, html, see_other};
use crate::auth::portal::LinkState;
use crate::catalog::portal::{self, Requested, SignIn};
use crate::context::Context;
use crate::domain::text::display;
use crate::error::Error;

#[derive(Template)]
#[template(path = "portal/request.html")]
struct RequestPage {
    styles: Styles,
    csrf: String,
    merchant_name: String,
    action: String,
    email: String,
    /// The message at the email field.
    error: Option<String>,
    /// The request was taken: "check your email".
    sent: bool,
}

/// Renders a page with an anonymous form, setting the CSRF cookie when needed.
fn public_page<T: Template>(
    state: &Context,
    req: &HttpRequest,
    status: StatusCode,
    build: impl FnOnce(String) -> T,
) -> HttpResponse {
    let (csrf, cookie) = session::COOKIES.anonymous_csrf(state, req);
    let mut res = html(status, &build(csrf));
    if let Some(cookie) = cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// GET /portal/{merchant}
pub async fn request_page(
    state: web::Data<Context>,
    req: HttpRequest,
    merchant: web::Path<String>,
) -> PortalResult {
    let merchant = portal::merchant(&state, &merchant).await?;
    Ok(public_page(&state, &req, StatusCode::OK, |csrf| {
        RequestPage {
            styles: Styles::new(&state),
            csrf,
            merchant_name: display(&merchant.name),
            action: format!("/portal/{}", merchant.id),
            email: String::new(),
            error: None,
            sent: false,
        }
    }))
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    email: String,
}

/// POST /portal/{merchant}: the same answer whether or not a customer has
/// the address.
pub async fn request(
    state: web::Data<Context>,
    req: HttpRequest,
    merchant: web::Path<String>,
    web::Form(form): web::Form<RequestForm>,
) -> PortalResult {
    let merchant = portal::merchant(&state, &merchant).await?;
    let client = crate::web::browser::client_address(&req);
    let page = |csrf, email: String, error, sent| RequestPage {
        styles: Styles::new(&state),
        csrf,
        merchant_name: display(&merchant.name),
        action: format!("/portal/{}", merchant.id),
        email,
        error,
        sent,
    };
    match portal::request_by_email(&state, &merchant.id, &form.email, &client).await {
        Ok(Requested::Taken) => Ok(public_page(&state, &req, StatusCode::OK, |csrf| {
            page(csrf, String::new(), None, true)
        })),
        Ok(Requested::Throttled(wait)) => Err(PortalError::Throttled(
            format!(
                "Too many sign-in links were asked for. Please try again in {} minute(s).",
                (wait.num_seconds() + 59) / 60
            ),
            wait,
        )),
        Err(Error::Invalid { message, .. }) => {
            // What was typed goes back into the field (escaped), without a
            // NUL character, which no page should carry.
            let typed = display(&form.email.replace('\0', "\u{fffd}"));
            let typed: String = typed.chars().take(300).collect();
            Ok(public_page(&state, &req, StatusCode::BAD_REQUEST, |csrf| {
                page(csrf, typed, Some(message), false)
            }))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "portal/login.html")]
struct LoginPage {
    styles: Styles,
    csrf: String,
    merchant_name: String,
    action: String,
}

fn refused_page(state: &Context, why: LinkState, merchant_id: &str) -> HttpResponse {
    let (id, title, message) = match why {
        LinkState::Expired => (
            "link-expired",
            "This sign-in link has expired",
            "Sign-in links work for 15 minutes. Ask for a new one: it comes by email.",
        ),
        _ => (
            "link-used",
            "This sign-in link was already used",
            "Each sign-in link works once. Ask for a new one: it comes by email.",
        ),
    };
    html(
        StatusCode::GONE,
        &MessagePage {
            styles: Styles::new(state),
            id,
            title,
            message: message.to_owned(),
            link: Some((format!("/portal/{merchant_id}"), "Send me a new link")),
        },
    )
}

/// GET /portal/login/{token}: a page with the button that signs in.
pub async fn login_page(
    state: web::Data<Context>,
    req: HttpRequest,
    token: web::Path<String>,
) -> PortalResult {
    let Some(found) = portal::link(&state, &token).await? else {
        return Err(PortalError::NotFound);
    };
    if found.state != LinkState::Usable {
        return Ok(refused_page(&state, found.state, &found.merchant.id));
    }
    Ok(public_page(&state, &req, StatusCode::OK, |csrf| {
        LoginPage {
            styles: Styles::new(&state),
            csrf,
            merchant_name: display(&found.merchant.name),
            action: format!("/portal/login/{}", token.as_str()),
        }
    }))
}

/// POST /portal/login/{token}: uses the link; the session cookie, then the portal.
pub async fn login(state: web::Data<Context>, token: web::Path<String>) -> PortalResult {
    match portal::sign_in(&state, &token).await? {
        SignIn::Session(session_token) => {
            let mut res = see_other("/portal");
            let _ = res.add_cookie(&session::session_cookie(&state, session_token));
            Ok(res)
        }
        SignIn::Refused(why, merchant) => Ok(refused_page(&state, why, &merchant.id)),
        SignIn::Unknown => Err(PortalError::NotFound),
    }
}

/// POST /portal/logout: ends the session; back to the merchant's portal page.
pub async fn logout(
    state: web::Data<Context>,
    req: HttpRequest,
    customer: Option<Customer>,
) -> PortalResult {
    if let Some(cookie) = req.cookie(session::SESSION_COOKIE) {
        crate::auth::portal::end_session(&state.db, cookie.value()).await?;
    }
    let to = match &customer {
        Some(c) => format!("/portal/{}", c.merchant_id()),
        None => "/portal".to_owned(),
    };
    let mut res = see_other(&to);
    let _ = res.add_cookie(&session::removed_session_cookie(&state));
    Ok(res)
}
