//! Emails: what pushbill wrote to the merchant's customers and to the
//! merchant, newest first, each with its text and HTML. Without `[smtp]`
//! nothing is sent and this is the mail catcher (the sandbox's default);
//! with it, the sent log with each email's status.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};
use actix_web::{HttpResponse, web};
use askama::Template;

use super::session::Signed;
use super::view::{Cursors, Pager, Shell, display, display_opt, when, when_opt};
use super::{PageResult, html};
use crate::context::Context;
use crate::notify::email::outbox;
use crate::store::outgoing_emails;

struct EmailRow {
    id: String,
    kind: String,
    to: String,
    subject: String,
    status: String,
    created: String,
    sent: String,
    last_error: String,
}

impl From<&outgoing_emails::Model> for EmailRow {
    fn from(e: &outgoing_emails::Model) -> Self {
        Self {
            id: e.id.clone(),
            kind: e.kind.clone(),
            to: display(&e.to_address),
            subject: display(&e.subject),
            status: e.status.clone(),
            created: when(e.created_at),
            sent: when_opt(e.sent_at),
            last_error: display_opt(e.last_error.as_deref()),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/emails.html")]
struct ListPage {
    shell: Shell,
    /// No `[smtp]`: nothing leaves, this page is where emails land.
    catcher: bool,
    emails: Vec<EmailRow>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "dashboard/email.html")]
struct EmailPage {
    shell: Shell,
    catcher: bool,
    email: EmailRow,
    text: String,
}

/// GET /dashboard/emails
pub async fn list(
    state: web::Data<Context>,
    signed: Signed,
    web::Query(cursors): web::Query<Cursors>,
) -> PageResult {
    let page = outbox::list(&state.db, signed.merchant_id(), &cursors.params("em_")?).await?;
    let ids: Vec<&str> = page.data.iter().map(|e| e.id.as_str()).collect();
    let pager = Pager::new("/dashboard/emails", &cursors, &ids, page.has_more);
    Ok(html(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&signed, "emails"),
            catcher: state.settings.smtp.is_none(),
            emails: page.data.iter().map(EmailRow::from).collect(),
            pager,
        },
    ))
}

/// GET /dashboard/emails/{id}
pub async fn page(state: web::Data<Context>, signed: Signed, id: web::Path<String>) -> PageResult {
    let email = outbox::get(&state.db, signed.merchant_id(), &id).await?;
    Ok(html(
        StatusCode::OK,
        &EmailPage {
            shell: Shell::new(&signed, "emails"),
            catcher: state.settings.smtp.is_none(),
            email: EmailRow::from(&email),
            text: display(&email.body_text),
        },
    ))
}

/// GET /dashboard/emails/{id}/html: the HTML part as the customer's mail
/// program would show it, in a sandbox that runs no script and loads
/// nothing from elsewhere.
pub async fn html_part(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    let email = outbox::get(&state.db, signed.merchant_id(), &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
             form-action 'none'; frame-ancestors 'none'",
        ))
        .body(email.body_html))
}
