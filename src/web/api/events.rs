//! /v1/events

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::pagination::{List, page_params};
use crate::app::AppState;
use crate::catalog::events;
use crate::domain::ids::EventId;
use crate::objects;

pub async fn get(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let event = events::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::Event::from(&event)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEvents {
    limit: Option<String>,
    starting_after: Option<String>,
    ending_before: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
    query: web::Query<ListEvents>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = page_params(
        q.limit.as_deref(),
        q.starting_after.as_deref(),
        q.ending_before.as_deref(),
        EventId::PREFIX,
    )?;
    let page = events::list(&state.db, &merchant.id, q.event_type.as_deref(), &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/events",
        page.map(|e| objects::Event::from(&e)),
    )))
}
