//! /v1/grants: subscribers' consent, made by their nodes in the subscribe
//! handshake (read only: the subscriber makes and revokes a grant; canceling
//! the subscription ends it).

use actix_web::{HttpResponse, get, web};

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use crate::catalog::{self, grants::Filter};
use crate::context::Context;
use crate::domain::ids::GrantId;
use crate::objects;

/// Retrieve a grant
#[utoipa::path(
    tag = "Grants",
    operation_id = "get_grant",
    params(("id" = String, Path, description = "The grant's id (`grt_...`).")),
    responses((status = 200, description = "The grant.", body = objects::Live<objects::Grant>)),
)]
#[get("/grants/{id}")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let grant = catalog::grants::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::Grant::from(&grant))))
}

list_query!(ListGrants {
    /// Only this customer's grants (`cus_...`).
    customer: Option<String>,
    /// Only this subscription's grants (`sub_...`).
    subscription: Option<String>,
});

/// List grants
#[utoipa::path(
    tag = "Grants",
    operation_id = "list_grants",
    params(ListGrants),
    responses((status = 200, description = "A page of grants.", body = List<objects::Live<objects::Grant>>)),
)]
#[get("/grants")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListGrants>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(GrantId::PREFIX)?;
    let filter = Filter {
        customer: q.customer,
        subscription: q.subscription,
    };
    let page = catalog::grants::list(&state.db, &merchant.id, filter, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/grants",
        page.map(|g| merchant.live(objects::Grant::from(&g))),
    )))
}
