//! /v1/events

use actix_web::{HttpResponse, get, web};

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use crate::catalog::events;
use crate::context::Context;
use crate::domain::ids::EventId;
use crate::objects;

/// Retrieve an event
#[utoipa::path(
    tag = "Events",
    operation_id = "get_event",
    params(("id" = String, Path, description = "The event's id (`evt_...`).")),
    responses((status = 200, description = "The event.", body = objects::Event)),
)]
#[get("/events/{id}")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let event = events::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::Event::new(&event, merchant.livemode)))
}

list_query!(ListEvents {
    /// Only events of this type, e.g. `invoice.paid`.
    #[serde(rename = "type")]
    event_type: Option<String>,
});

/// List events
#[utoipa::path(
    tag = "Events",
    operation_id = "list_events",
    params(ListEvents),
    responses((status = 200, description = "A page of events.", body = List<objects::Event>)),
)]
#[get("/events")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListEvents>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(EventId::PREFIX)?;
    let page = events::list(&state.db, &merchant.id, q.event_type.as_deref(), &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/events",
        page.map(|e| objects::Event::new(&e, merchant.livemode)),
    )))
}
