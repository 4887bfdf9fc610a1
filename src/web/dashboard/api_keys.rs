//! Developers: the merchant's API keys. A new key's secret is shown once;
//! revoking is for good. Through `auth::api_keys`, as the API's.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::session::Signed;
use super::view::{self, FieldError, Shell, display, when, when_opt};
use super::{PageResult, html, see_other};
use crate::auth::api_keys::{self, Mode};
use crate::context::Context;
use crate::store::page::PageParams;

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    mode: String,
    created: String,
    last_used: String,
    revoked: Option<String>,
}

#[derive(Template)]
#[template(path = "dashboard/developers.html")]
struct DevelopersPage {
    shell: Shell,
    keys: Vec<KeyRow>,
    /// The secret of the key just created: shown once.
    new_secret: Option<String>,
    name: String,
    error: FieldError,
}

async fn render(
    state: &Context,
    signed: &Signed,
    status: StatusCode,
    new_secret: Option<String>,
    name: String,
    error: FieldError,
) -> PageResult {
    let keys = api_keys::list(
        &state.db,
        signed.merchant_id(),
        &PageParams {
            limit: 100,
            cursor: None,
        },
    )
    .await?
    .data
    .into_iter()
    .map(|k| KeyRow {
        id: k.id,
        name: display(&k.name),
        prefix: k.prefix,
        mode: k.mode,
        created: when(k.created_at),
        last_used: when_opt(k.last_used_at),
        revoked: k.revoked_at.map(when),
    })
    .collect();
    Ok(html(
        status,
        &DevelopersPage {
            shell: Shell::new(signed, "developers"),
            keys,
            new_secret,
            name,
            error,
        },
    ))
}

/// GET /dashboard/developers
pub async fn page(state: web::Data<Context>, signed: Signed) -> PageResult {
    render(
        &state,
        &signed,
        StatusCode::OK,
        None,
        String::new(),
        FieldError::none(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    #[serde(default)]
    name: String,
}

/// POST /dashboard/developers/keys: the new key's secret, shown once.
pub async fn create(
    state: web::Data<Context>,
    signed: Signed,
    web::Form(form): web::Form<KeyForm>,
) -> PageResult {
    let mode = Mode::for_network(state.settings.app.network);
    match api_keys::create(
        &state.db,
        state.clocks.now(),
        signed.merchant_id(),
        &form.name,
        mode,
    )
    .await
    {
        Ok(created) => {
            render(
                &state,
                &signed,
                StatusCode::OK,
                Some(created.secret),
                String::new(),
                FieldError::none(),
            )
            .await
        }
        Err(e) => {
            let error = view::field_error(e)?;
            render(
                &state,
                &signed,
                StatusCode::BAD_REQUEST,
                None,
                form.name,
                error,
            )
            .await
        }
    }
}

/// POST /dashboard/developers/keys/{id}/revoke
pub async fn revoke(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    api_keys::revoke(&state.db, state.clocks.now(), signed.merchant_id(), &id).await?;
    Ok(see_other("/dashboard/developers"))
}
