//! /v1/events

use actix_web::{HttpResponse, web};

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::pagination::{List, list_query};
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

list_query!(ListEvents {
    #[serde(rename = "type")]
    event_type: Option<String>,
});

pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
    query: web::Query<ListEvents>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = q.page(EventId::PREFIX)?;
    let page = events::list(&state.db, &merchant.id, q.event_type.as_deref(), &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/events",
        page.map(|e| objects::Event::from(&e)),
    )))
}
