//! The `events` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    #[sea_orm(column_name = "type")]
    pub event_type: String,
    pub object_type: String,
    pub object_id: String,
    pub data: Json,
    pub created_at: DateTimeUtc,
    pub dispatched_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, QueryOrder};

use crate::domain::EventType;
use crate::domain::ids::EventId;

/// Events written in one go, in the order they were pushed.
#[derive(Debug, Default)]
pub struct EventBatch {
    rows: Vec<ActiveModel>,
}

impl EventBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(
        &mut self,
        merchant_id: &str,
        event_type: EventType,
        object_type: &str,
        object_id: &str,
        data: Json,
        now: DateTime<Utc>,
    ) {
        self.rows.push(ActiveModel {
            id: Set(EventId::new().to_string()),
            merchant_id: Set(merchant_id.to_owned()),
            event_type: Set(event_type.as_str().to_owned()),
            object_type: Set(object_type.to_owned()),
            object_id: Set(object_id.to_owned()),
            data: Set(data),
            created_at: Set(now),
            dispatched_at: Set(None),
        });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Inserts the events; call inside the transaction that made the change they describe.
    pub async fn insert(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        // Events carry a JSON snapshot of their object (about 700 bytes).
        super::insert_in_chunks(db, self.rows, 16).await
    }
}

/// Every event about one object, oldest first.
pub async fn for_object(db: &impl ConnectionTrait, object_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::ObjectId.eq(object_id))
        .order_by_asc(Column::Id)
        .all(db)
        .await
}
