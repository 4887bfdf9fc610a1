//! /v1/customers

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use super::pagination::{List, list_query};
use super::{PathId, double_option};
use crate::app::AppState;
use crate::catalog::customers::{self, CustomerUpdate, NewCustomer};
use crate::domain::{CustomerId, EmailAddress, NodeAddress, NodeId};
use crate::error::{Error, Result};
use crate::objects;

fn email(s: &str) -> Result<EmailAddress> {
    EmailAddress::parse(s).map_err(|e| Error::invalid("email", e.to_string()))
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    email: Option<String>,
    name: Option<String>,
    external_id: Option<String>,
    node_id: Option<String>,
    node_address: Option<String>,
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

pub async fn create(
    state: web::Data<AppState>,
    merchant: Merchant,
    ApiJson(body): ApiJson<CreateCustomer>,
) -> Result<HttpResponse, ApiError> {
    let customer =
        customers::create(&state.db, state.clock.now(), &merchant.id, body.parse()?).await?;
    Ok(HttpResponse::Ok().json(objects::Customer::from(&customer)))
}

pub async fn get(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let customer = customers::get(&state.db, &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::Customer::from(&customer)))
}

list_query!(ListCustomers {});

pub async fn list(
    state: web::Data<AppState>,
    merchant: Merchant,
    query: web::Query<ListCustomers>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = q.page(CustomerId::PREFIX)?;
    let page = customers::list(&state.db, &merchant.id, &page).await?;
    Ok(HttpResponse::Ok().json(List::new(
        "/v1/customers",
        page.map(|c| objects::Customer::from(&c)),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[serde(default, deserialize_with = "double_option")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    external_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    node_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    node_address: Option<Option<String>>,
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

pub async fn update(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
    ApiJson(body): ApiJson<UpdateCustomer>,
) -> Result<HttpResponse, ApiError> {
    let customer = customers::update(
        &state.db,
        state.clock.now(),
        &merchant.id,
        id.as_str(),
        body.parse()?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(objects::Customer::from(&customer)))
}

pub async fn delete(
    state: web::Data<AppState>,
    merchant: Merchant,
    id: PathId,
) -> Result<HttpResponse, ApiError> {
    let customer =
        customers::delete(&state.db, state.clock.now(), &merchant.id, id.as_str()).await?;
    Ok(HttpResponse::Ok().json(objects::Deleted {
        id: customer.id,
        object: "customer",
        deleted: true,
    }))
}
