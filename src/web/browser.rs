//! What the pages served to browsers share (the dashboard, the signup pages,
//! the customer portal, the pay page): embedded assets, private pages, the
//! client's address, and cookies with the CSRF tokens derived from them.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::auth::sessions;
use crate::context::Context;

/// The form field holding a page's CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// An asset embedded in the binary (CSS, JS), cached for an hour.
pub fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// A rendered page whose address is a key (a signup link, a portal token):
/// kept out of caches, referrers and search engines.
pub fn private_page(
    status: StatusCode,
    rendered: askama::Result<String>,
    what: &str,
) -> HttpResponse {
    match rendered {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header(("Referrer-Policy", "no-referrer"))
            .insert_header(("X-Robots-Tag", "noindex"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "{what}: cannot render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Whether pages carry the "sandbox" label: the deployment runs on the
/// sandbox chain.
pub fn sandbox(state: &Context) -> bool {
    state.settings.app.network == crate::config::Network::Sandbox
}

/// Tells the browser when to try again (a 429's `Retry-After`, in whole
/// seconds, at least one).
/// A wallet connection's budget as the portal and the dashboard word it:
/// "50000 sat monthly", "50000 sat in all" (`never` renews); `None` when
/// the wallet reported none.
pub fn wallet_budget(w: &crate::store::wallet_connections::Model) -> Option<String> {
    let total = crate::notify::email::render::sat_amount(w.budget_total_msat?);
    Some(match w.budget_renewal.as_deref() {
        None | Some("never") => format!("{total} in all"),
        Some(renewal) => format!("{total} {renewal}"),
    })
}

pub fn retry_after(res: &mut HttpResponse, wait: chrono::Duration) {
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(wait.num_seconds().max(1)));
}

/// A part's error page, which can carry the "sandbox" label. Its
/// `error_response` is `page(false)`: [`guard`] renders it again with the
/// label on the sandbox, where the request (and so the deployment) is known.
pub trait ErrorPage: ResponseError + From<Refused> + Sized + 'static {
    fn page(&self, sandbox: bool) -> HttpResponse;
}

/// The guard a part of the site wraps its scope in: [`Cookies::screen`]
/// first (its refusal shown as `E`'s page), then the handler; an error page
/// of `E` the handler answered with is labelled "sandbox" on the sandbox.
pub async fn guard<E: ErrorPage>(
    cookies: Cookies,
    nul_in_fields: bool,
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let sandbox = req
        .app_data::<web::Data<Context>>()
        .is_some_and(|state| sandbox(state));
    if let Some(refused) = cookies.screen(&mut req, nul_in_fields).await? {
        let page = E::from(refused).page(sandbox);
        return Ok(req.into_response(page).map_into_right_body());
    }
    let res = next.call(req).await?;
    let labelled = sandbox
        .then(|| {
            res.response()
                .error()?
                .as_error::<E>()
                .map(|e| e.page(true))
        })
        .flatten();
    Ok(match labelled {
        Some(page) => res.into_response(page).map_into_right_body(),
        None => res.map_into_left_body(),
    })
}

/// The client's IP address, for throttles (the TCP peer: behind a reverse
/// proxy every client shares the proxy's address).
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The cookies of one part of the site: HttpOnly, SameSite=Lax, Secure over
/// HTTPS, on `path`. A form's CSRF token is derived from the session cookie
/// when there is one, else from an anonymous CSRF cookie.
#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    pub path: &'static str,
    /// The session cookie's name, for the parts that sign in.
    pub session: Option<&'static str>,
    pub csrf: &'static str,
}

impl Cookies {
    /// A cookie of this part, living `age` (zero removes it).
    pub fn cookie(
        &self,
        state: &Context,
        name: &'static str,
        value: String,
        age: time::Duration,
    ) -> Cookie<'static> {
        Cookie::build(name, value)
            .path(self.path)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.settings.secure_cookies())
            .max_age(age)
            .finish()
    }

    /// The CSRF token for a form shown to a browser that may not be signed
    /// in, and the cookie to set when the browser has none yet.
    pub fn anonymous_csrf(
        &self,
        state: &Context,
        req: &HttpRequest,
    ) -> (String, Option<Cookie<'static>>) {
        if let Some(token) = self.expected_csrf(req) {
            return (token, None);
        }
        let seed = sessions::new_token();
        let token = sessions::csrf_token(&seed);
        let cookie = self.cookie(state, self.csrf, seed, time::Duration::hours(12));
        (token, Some(cookie))
    }

    /// The CSRF token this browser's forms must carry; `None` when it has
    /// neither a session nor a CSRF cookie.
    pub fn expected_csrf(&self, req: &HttpRequest) -> Option<String> {
        self.session
            .and_then(|name| req.cookie(name))
            .filter(|c| !c.value().is_empty())
            .or_else(|| req.cookie(self.csrf).filter(|c| !c.value().is_empty()))
            .map(|c| sessions::csrf_token(c.value()))
    }
}

/// Why a request was refused before its handler ran; each part shows it as
/// its own error page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// 400: a NUL character in the address or a form field.
    Invalid(String),
    /// 403: a POST without this part's CSRF token.
    Forbidden(String),
}

impl Cookies {
    /// Screens a request before any handler of this part: a NUL character
    /// in the address (and, with `nul_in_fields`, in a form field: the
    /// dashboard's; the other parts report it at the field) is refused, and
    /// so is a POST whose `csrf` field is missing or wrong. The form is put
    /// back untouched for the handler.
    pub async fn screen(
        &self,
        req: &mut ServiceRequest,
        nul_in_fields: bool,
    ) -> Result<Option<Refused>, actix_web::Error> {
        use crate::domain::text::{NUL_REFUSED, has_nul};
        let uri = req.uri().to_string().to_ascii_lowercase();
        if uri.contains("%00") || uri.contains('\0') {
            return Ok(Some(Refused::Invalid(format!("The address {NUL_REFUSED}"))));
        }
        if req.method() != Method::POST {
            return Ok(None);
        }
        let body = req.extract::<web::Bytes>().await?;
        let mut sent = None;
        for (key, value) in url::form_urlencoded::parse(&body) {
            if nul_in_fields && (has_nul(&value) || has_nul(&key)) {
                return Ok(Some(Refused::Invalid(format!("{key}: {NUL_REFUSED}"))));
            }
            if key == CSRF_FIELD && sent.is_none() {
                sent = Some(value.into_owned());
            }
        }
        let expected = self.expected_csrf(req.request());
        if !matches!((&sent, &expected), (Some(s), Some(e)) if sessions::same_token(s, e)) {
            return Ok(Some(Refused::Forbidden(
                "This form has expired or did not come from this site. Go back, reload the page and try again."
                    .to_owned(),
            )));
        }
        req.set_payload(Payload::from(body));
        Ok(None)
    }
}
