//! /v1/customers/{id}/portal_links: a sign-in link to the customer portal,
//! made by the merchant for its customer (docs/portal.md).

use actix_web::{HttpResponse, post, web};

use super::PathId;
use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::subscriptions::Empty;
use crate::catalog::portal;
use crate::context::Context;
use crate::objects;

/// Create a customer portal link
///
/// A single-use link that signs the customer in to the customer portal,
/// where they see their subscriptions and invoices, pay open invoices,
/// cancel at period end and update their email. The URL is answered once
/// (it is not stored, so this operation takes no `Idempotency-Key`) and
/// works for 15 minutes. Another merchant's customer answers 404.
#[utoipa::path(
    tag = "Customers",
    operation_id = "create_portal_link",
    params(("id" = String, Path, description = "The customer's id (`cus_...`).")),
    request_body(content = Empty, description = "No fields: `{}` or no body."),
    responses((status = 200, description = "The link.", body = objects::Live<objects::PortalLink>)),
)]
#[post("/customers/{id}/portal_links")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    _: ApiJson<Empty>,
) -> Result<HttpResponse, ApiError> {
    let (customer, link) = portal::create_for_customer(&state, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(merchant.live(objects::PortalLink {
            object: "portal_link",
            customer,
            url: portal::login_url(&state, &link.token),
            expires_at: link.expires_at,
        })))
}
