//! Listing a merchant's subscriptions (their lifecycle is `billing::lifecycle`).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::domain::SubscriptionStatus;
use crate::error::{Error, Result};
use crate::store::page::{self, Owned, Page, PageParams};
use crate::store::subscriptions;

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub customer: Option<String>,
    pub status: Option<String>,
    pub plan: Option<String>,
}

/// The merchant's subscriptions, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    filter: Filter,
    page: &PageParams,
) -> Result<Page<subscriptions::Model>> {
    let status = filter
        .status
        .map(|status| {
            SubscriptionStatus::parse(&status)
                .map_err(|_| Error::invalid("status", format!("unknown status `{status}`")))
        })
        .transpose()?;
    let mut select = subscriptions::Entity::find();
    if let Some(customer) = filter.customer {
        select = select.filter(subscriptions::Column::CustomerId.eq(customer));
    }
    if let Some(plan) = filter.plan {
        select = select.filter(subscriptions::Column::PlanId.eq(plan));
    }
    let key = Owned {
        owner: (subscriptions::Column::MerchantId, merchant_id),
        status: status.map(|s| (subscriptions::Column::Status, s.as_str())),
        id: subscriptions::Column::Id,
    };
    Ok(page::fetch_owned(db, select, key, page).await?)
}
