//! Reading a merchant's grants (their lifecycle is `billing::grants`).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::error::{Error, Result};
use crate::store::grants;
use crate::store::page::{self, Page, PageParams};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub customer: Option<String>,
    pub subscription: Option<String>,
}

/// The merchant's grants, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    filter: Filter,
    page: &PageParams,
) -> Result<Page<grants::Model>> {
    let mut select = grants::Entity::find().filter(grants::Column::MerchantId.eq(merchant_id));
    if let Some(customer) = filter.customer {
        select = select.filter(grants::Column::CustomerId.eq(customer));
    }
    if let Some(subscription) = filter.subscription {
        select = select.filter(grants::Column::SubscriptionId.eq(subscription));
    }
    Ok(page::fetch(db, select, grants::Column::Id, page).await?)
}

/// The merchant's grant, or NotFound (also for another merchant's).
pub async fn get(db: &impl ConnectionTrait, merchant_id: &str, id: &str) -> Result<grants::Model> {
    grants::Entity::find_by_id(id)
        .filter(grants::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("grant", id))
}
