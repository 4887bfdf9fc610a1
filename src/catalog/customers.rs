use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};

use crate::domain::ids::CustomerId;
use crate::domain::{EmailAddress, NodeAddress, NodeId};
use crate::error::{Error, Result};
use crate::store::customers;

/// A customer as the merchant describes them, already parsed into domain types.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub email: Option<EmailAddress>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    /// The node that push invoices go to.
    pub node_id: Option<NodeId>,
    /// Where to reach that node; its node id must match `node_id` when both are given.
    pub node_address: Option<NodeAddress>,
}

pub async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    customer: NewCustomer,
) -> Result<customers::Model> {
    let node_id = match (&customer.node_id, &customer.node_address) {
        (Some(id), Some(addr)) if *id != addr.node_id => {
            return Err(Error::invalid(
                "node_address",
                "its node id differs from `node_id`",
            ));
        }
        (Some(id), _) => Some(id.to_string()),
        (None, Some(addr)) => Some(addr.node_id.to_string()),
        (None, None) => None,
    };
    if customer
        .name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 200)
    {
        return Err(Error::invalid("name", "at most 200 characters"));
    }
    if customer
        .external_id
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.len() > 200)
    {
        return Err(Error::invalid("external_id", "must be 1 to 200 characters"));
    }
    let row = customers::ActiveModel {
        id: Set(CustomerId::new().to_string()),
        merchant_id: Set(merchant_id.to_owned()),
        email: Set(customer.email.map(|e| e.to_string())),
        name: Set(customer.name),
        external_id: Set(customer.external_id),
        node_id: Set(node_id),
        node_address: Set(customer.node_address.map(|a| a.to_string())),
        metadata: Set(serde_json::json!({})),
        deleted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    Ok(row.insert(db).await?)
}

/// The merchant's live customer, or NotFound (also for another merchant's).
pub async fn get(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    id: &str,
) -> Result<customers::Model> {
    customers::Entity::find_by_id(id)
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))
}
