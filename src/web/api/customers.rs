//! /v1/customers

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::query::ApiQuery;
use super::{PathId, double_option};
use crate::catalog::customers::{self, CustomerUpdate, NewCustomer};
use crate::context::Context;
use crate::domain::{CustomerId, EmailAddress, NodeAddress, NodeId};
use crate::error::{Error, Result};
use crate::objects;

fn email(s: &str) -> Result<EmailAddress> {
    customers::parse_email(s)
}

fn node_id(s: &str) -> Result<NodeId> {
    NodeId::parse(s).map_err(|e| Error::invalid("node_id", e.to_string()))
}

fn node_address(s: &str) -> Result<NodeAddress> {
    NodeAddress::parse(s).map_err(|e| Error::invalid("node_address", e.to_string()))
}

/// Parses an optional field; `None` stays `None`.
fn opt<T>(v: Option<String>, parse: fn(&str) -> Result<T>) -> Result<Option<T>> {
    v.as_deref().map(parse).transpose()
}

/// Parses a patch field: absent stays absent, null or "" clears it.
fn patch<T>(v: Option<Option<String>>, parse: fn(&str) -> Result<T>) -> Result<Option<Option<T>>> {
    match v {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(s)) if s.is_empty() => Ok(Some(None)),
        Some(Some(s)) => parse(&s).map(|t| Some(Some(t))),
    }
}

fn text(s: &str) -> Result<String> {
    Ok(s.to_owned())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    /// Where dunning emails go.
    email: Option<String>,
    /// At most 200 characters.
    name: Option<String>,
    /// Your own reference for the customer, 1 to 200 characters.
    external_id: Option<String>,
    /// The customer's Lightning node: 33-byte compressed public key in hex (66 characters).
    node_id: Option<String>,
    /// Where to reach the node: `host:port`.
    node_address: Option<String>,
    /// String values under keys of up to 40 characters (at most 50 keys).
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
}

impl CreateCustomer {
    fn parse(self) -> Result<NewCustomer> {
        Ok(NewCustomer {
            email: opt(self.email, email)?,
            name: self.name,
            external_id: self.external_id,
            node_id: opt(self.node_id, node_id)?,
            node_address: opt(self.node_address, node_address)?,
            metadata: self.metadata,
        })
    }
}

/// Create a customer
#[utoipa::path(
    tag = "Customers",
    operation_id = "create_customer",
    request_body = CreateCustomer,
    responses((status = 200, description = "The new customer.", body = objects::Live<objects::Customer>)),
)]
#[post("/customers")]
pub async fn create(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<HttpResponse, ApiError> {
    let customer = customers::create(&state.db, merchant.now, &merchant.id, body.parse()?).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::Customer::from(&customer))))
}

/// Retrieve a customer
#[utoipa::path(
    tag = "Customers",
    operation_id = "get_customer",
    params(("id" = String, Path, description = "The customer's id (`cus_...`).")),
    responses((status = 200, description = "The customer.", body = objects::Live<objects::Customer>)),
)]
#[get("/customers/{id}")]
pub async fn get(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let customer = customers::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::Customer::from(&customer))))
}

list_query!(ListCustomers {});

/// List customers
#[utoipa::path(
    tag = "Customers",
    operation_id = "list_customers",
    params(ListCustomers),
    responses((status = 200, description = "A page of customers.", body = List<objects::Live<objects::Customer>>)),
)]
#[get("/customers")]
pub async fn list(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiQuery(q): ApiQuery<ListCustomers>,
) -> Result<HttpResponse, ApiError> {
    let page = q.page(CustomerId::PREFIX)?;
    let page = customers::list(&state.db, &merchant.id, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/customers",
        page.map(|c| merchant.live(objects::Customer::from(&c))),
    )))
}

/// Fields to change; absent fields stay, null (or "") clears one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    node_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    node_address: Option<Option<String>>,
    /// Merged into the existing metadata; a key set to null is removed.
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
}

impl UpdateCustomer {
    fn parse(self) -> Result<CustomerUpdate> {
        Ok(CustomerUpdate {
            email: patch(self.email, email)?,
            name: patch(self.name, text)?,
            external_id: patch(self.external_id, text)?,
            node_id: patch(self.node_id, node_id)?,
            node_address: patch(self.node_address, node_address)?,
            metadata: self.metadata,
        })
    }
}

/// Update a customer
#[utoipa::path(
    tag = "Customers",
    operation_id = "update_customer",
    params(("id" = String, Path, description = "The customer's id (`cus_...`).")),
    request_body = UpdateCustomer,
    responses((status = 200, description = "The updated customer.", body = objects::Live<objects::Customer>)),
)]
#[post("/customers/{id}")]
pub async fn update(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<UpdateCustomer>,
) -> Result<HttpResponse, ApiError> {
    let customer = customers::update(
        &state.db,
        merchant.now,
        &merchant.id,
        id.as_str(),
        body.parse()?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(merchant.live(objects::Customer::from(&customer))))
}

/// Delete a customer
///
/// Only a customer without live subscriptions can be deleted (409 otherwise).
#[utoipa::path(
    tag = "Customers",
    operation_id = "delete_customer",
    params(("id" = String, Path, description = "The customer's id (`cus_...`).")),
    responses((status = 200, description = "The customer is gone.", body = objects::Deleted)),
)]
#[delete("/customers/{id}")]
pub async fn delete(
    state: web::Data<Context>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let customer = customers::delete(&state.db, merchant.now, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::Deleted {
        id: customer.id,
        object: "customer",
        deleted: true,
    }))
}
