//! Sign up, sign in, sign out, and the team page with its invitations.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::session::{self, Signed};
use super::view::{self, FieldError, PublicShell, Shell, display, when};
use super::{PageError, PageResult, STYLESHEET_PATH, html, see_other};
use crate::auth::{sessions, throttle};
use crate::catalog::accounts::{self, SignIn, SignUp};
use crate::context::Context;
use crate::notify::email::from_events::Queueing;
use crate::notify::email::invitation;
use crate::store;

fn public_shell(state: &Context, csrf: String) -> PublicShell {
    PublicShell {
        stylesheet: STYLESHEET_PATH,
        csrf,
        sandbox: crate::web::browser::sandbox(state),
    }
}

fn session_lifetime(state: &Context) -> Duration {
    Duration::hours(state.settings.dashboard.session_hours.into())
}

fn limits(state: &Context) -> throttle::Limits {
    let d = &state.settings.dashboard;
    throttle::Limits {
        per_account: d.login_failures_per_account,
        per_address: d.login_failures_per_address,
        window: Duration::seconds(d.login_window_secs.into()),
    }
}

/// Renders an anonymous form page, setting the CSRF cookie when needed.
fn public_page<T: Template>(
    state: &Context,
    req: &HttpRequest,
    status: StatusCode,
    build: impl FnOnce(PublicShell) -> T,
) -> HttpResponse {
    let (csrf, cookie) = session::COOKIES.anonymous_csrf(state, req);
    let mut res = html(status, &build(public_shell(state, csrf)));
    if let Some(cookie) = cookie {
        let _ = res.add_cookie(&cookie);
    }
    res
}

/// Signed in: the session cookie, then the overview.
fn signed_in(state: &Context, token: String) -> HttpResponse {
    let mut res = see_other("/dashboard");
    let _ = res.add_cookie(&session::session_cookie(state, token));
    res
}

#[derive(Template)]
#[template(path = "dashboard/signup.html")]
struct SignupPage {
    shell: PublicShell,
    business_name: String,
    email: String,
    error: FieldError,
}

#[derive(Debug, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    business_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// GET /dashboard/signup
pub async fn signup_page(state: web::Data<Context>, req: HttpRequest) -> HttpResponse {
    public_page(&state, &req, StatusCode::OK, |shell| SignupPage {
        shell,
        business_name: String::new(),
        email: String::new(),
        error: FieldError::none(),
    })
}

/// POST /dashboard/signup: a merchant and its owner, signed in at once.
pub async fn signup(
    state: web::Data<Context>,
    req: HttpRequest,
    web::Form(form): web::Form<SignupForm>,
) -> PageResult {
    let now = state.clocks.now();
    let business_name = form.business_name.clone();
    let email = form.email.clone();
    let created = accounts::sign_up(
        &state.db,
        now,
        SignUp {
            business_name: form.business_name,
            email: form.email,
            password: form.password,
        },
    )
    .await;
    match created {
        Ok((_, user)) => {
            let token =
                sessions::start(&state.db, Utc::now(), &user, session_lifetime(&state)).await?;
            Ok(signed_in(&state, token))
        }
        Err(e) => {
            let error = view::field_error(e)?;
            Ok(public_page(
                &state,
                &req,
                StatusCode::BAD_REQUEST,
                |shell| SignupPage {
                    shell,
                    business_name,
                    email,
                    error,
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    shell: PublicShell,
    email: String,
    error: FieldError,
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// GET /dashboard/login
pub async fn login_page(state: web::Data<Context>, req: HttpRequest) -> HttpResponse {
    public_page(&state, &req, StatusCode::OK, |shell| LoginPage {
        shell,
        email: String::new(),
        error: FieldError::none(),
    })
}

/// POST /dashboard/login: 401 for a wrong email or password, 429 once the
/// account or the address has failed too often.
pub async fn login(
    state: web::Data<Context>,
    req: HttpRequest,
    web::Form(form): web::Form<LoginForm>,
) -> PageResult {
    let address = crate::web::browser::client_address(&req);
    let outcome = accounts::sign_in(
        &state.db,
        Utc::now(),
        &limits(&state),
        session_lifetime(&state),
        &form.email,
        &form.password,
        &address,
    )
    .await;
    let (status, error) = match outcome {
        Ok(SignIn::Started { token }) => return Ok(signed_in(&state, token)),
        Ok(SignIn::Refused) => (
            StatusCode::UNAUTHORIZED,
            FieldError {
                field: "password".into(),
                message: "Wrong email or password.".into(),
            },
        ),
        Ok(SignIn::Throttled { wait }) => (
            StatusCode::TOO_MANY_REQUESTS,
            FieldError {
                field: "form".into(),
                message: format!(
                    "Too many failed sign-ins. Try again in {} minutes.",
                    (wait.num_seconds() + 59) / 60
                ),
            },
        ),
        Err(e) => (StatusCode::BAD_REQUEST, view::field_error(e)?),
    };
    let mut res = public_page(&state, &req, status, |shell| LoginPage {
        shell,
        email: form.email,
        error,
    });
    if status == StatusCode::TOO_MANY_REQUESTS {
        res.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(state.settings.dashboard.login_window_secs),
        );
    }
    Ok(res)
}

/// POST /dashboard/logout: ends the session and removes its cookie.
pub async fn logout(state: web::Data<Context>, req: HttpRequest) -> PageResult {
    if let Some(cookie) = req.cookie(session::SESSION_COOKIE) {
        sessions::end(&state.db, cookie.value()).await?;
    }
    let mut res = see_other("/dashboard/login");
    let _ = res.add_cookie(&session::removed_session_cookie(&state));
    Ok(res)
}

struct Member {
    email: String,
    role: String,
    since: String,
}

struct OpenInvite {
    email: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "dashboard/team.html")]
struct TeamPage {
    shell: Shell,
    members: Vec<Member>,
    invites: Vec<OpenInvite>,
    /// The link of the invitation just made: shown once.
    new_link: Option<String>,
    /// The address the invitation was emailed to.
    emailed: Option<String>,
    email: String,
    error: FieldError,
}

async fn team(
    state: &Context,
    signed: &Signed,
    status: StatusCode,
    new_link: Option<String>,
    emailed: Option<String>,
    email: String,
    error: FieldError,
) -> PageResult {
    let members = accounts::team(&state.db, signed.merchant_id())
        .await?
        .into_iter()
        .map(|u| Member {
            email: display(&u.email),
            role: u.role,
            since: when(u.created_at),
        })
        .collect();
    let invites = accounts::open_invites(&state.db, Utc::now(), signed.merchant_id())
        .await?
        .into_iter()
        .map(|i| OpenInvite {
            email: display(&i.email),
            expires: when(i.expires_at),
        })
        .collect();
    Ok(html(
        status,
        &TeamPage {
            shell: Shell::new(signed, "team"),
            members,
            invites,
            new_link,
            emailed,
            email,
            error,
        },
    ))
}

/// GET /dashboard/team
pub async fn team_page(state: web::Data<Context>, signed: Signed) -> PageResult {
    team(
        &state,
        &signed,
        StatusCode::OK,
        None,
        None,
        String::new(),
        FieldError::none(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    email: String,
}

/// POST /dashboard/team/invites: makes the link, emails it to the invited
/// address (in the same transaction: the outbox sends it) and shows it once.
pub async fn invite(
    state: web::Data<Context>,
    signed: Signed,
    web::Form(form): web::Form<InviteForm>,
) -> PageResult {
    let lifetime = Duration::hours(state.settings.dashboard.invite_hours.into());
    let txn = store::begin_write(&state.db).await?;
    match accounts::invite(&txn, Utc::now(), &signed.user, &form.email, lifetime).await {
        Ok(created) => {
            let base = state.settings.app.base_url.trim_end_matches('/');
            let emailed = match Queueing::from_settings(&state.settings) {
                Some(_) => invitation::queue(
                    &txn,
                    state.clocks.now(),
                    base,
                    &signed.merchant,
                    &signed.user.email,
                    &created.invite.email,
                    &created.token,
                    created.invite.expires_at,
                )
                .await?
                .then(|| display(&created.invite.email)),
                None => None,
            };
            txn.commit().await?;
            let link = invitation::invite_url(base, &created.token);
            team(
                &state,
                &signed,
                StatusCode::OK,
                Some(link),
                emailed,
                String::new(),
                FieldError::none(),
            )
            .await
        }
        Err(e) => {
            drop(txn);
            let error = view::field_error(e)?;
            team(
                &state,
                &signed,
                StatusCode::BAD_REQUEST,
                None,
                None,
                form.email,
                error,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/invite.html")]
struct InvitePage {
    shell: PublicShell,
    merchant_name: String,
    email: String,
    action: String,
    error: FieldError,
}

#[derive(Debug, Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    password: String,
}

/// GET /dashboard/invite/{token}: choose a password to join.
pub async fn invite_page(
    state: web::Data<Context>,
    req: HttpRequest,
    token: web::Path<String>,
) -> PageResult {
    let Some((invite, merchant)) = accounts::find_invite(&state.db, Utc::now(), &token).await?
    else {
        return Err(PageError::NotFound);
    };
    Ok(public_page(&state, &req, StatusCode::OK, |shell| {
        InvitePage {
            shell,
            merchant_name: display(&merchant.name),
            email: display(&invite.email),
            action: format!("/dashboard/invite/{}", token.as_str()),
            error: FieldError::none(),
        }
    }))
}

/// POST /dashboard/invite/{token}: the teammate's account, signed in.
pub async fn accept_invite(
    state: web::Data<Context>,
    req: HttpRequest,
    token: web::Path<String>,
    web::Form(form): web::Form<AcceptForm>,
) -> PageResult {
    let now = Utc::now();
    let Some((invite, merchant)) = accounts::find_invite(&state.db, now, &token).await? else {
        return Err(PageError::NotFound);
    };
    match accounts::accept_invite(
        &state.db,
        now,
        &token,
        &form.password,
        session_lifetime(&state),
    )
    .await
    {
        Ok(session) => Ok(signed_in(&state, session)),
        Err(e) => {
            let error = view::field_error(e)?;
            Ok(public_page(
                &state,
                &req,
                StatusCode::BAD_REQUEST,
                |shell| InvitePage {
                    shell,
                    merchant_name: display(&merchant.name),
                    email: display(&invite.email),
                    action: format!("/dashboard/invite/{}", token.as_str()),
                    error,
                },
            ))
        }
    }
}
