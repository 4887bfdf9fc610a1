//! Reading a merchant's events (written by every change, in its transaction).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::domain::EventType;
use crate::error::{Error, Result};
use crate::store::events;
use crate::store::page::{self, Page, PageParams};

/// The merchant's event, or NotFound (also for another merchant's).
pub async fn get(db: &impl ConnectionTrait, merchant_id: &str, id: &str) -> Result<events::Model> {
    events::Entity::find_by_id(id)
        .filter(events::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("event", id))
}

/// The merchant's events, newest first, optionally of one type.
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    event_type: Option<&str>,
    page: &PageParams,
) -> Result<Page<events::Model>> {
    let mut select = events::Entity::find().filter(events::Column::MerchantId.eq(merchant_id));
    if let Some(t) = event_type {
        let t = EventType::parse(t)
            .ok_or_else(|| Error::invalid("type", format!("unknown event type `{t}`")))?;
        select = select.filter(events::Column::EventType.eq(t.as_str()));
    }
    Ok(page::fetch(db, select, events::Column::Id, page).await?)
}
