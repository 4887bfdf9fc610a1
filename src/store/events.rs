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
use sea_orm::{ConnectionTrait, DatabaseBackend, QueryOrder, Statement};
use serde::Serialize;

use crate::domain::EventType;
use crate::domain::ids::EventId;

/// Events written in one go, in the order they were pushed.
///
/// The billing engine records two or more events per subscription it bills,
/// so this is on the hot path: each payload is serialised straight to JSON
/// text once, and the rows are moved into plain multi-row INSERTs.
#[derive(Debug, Default)]
pub struct EventBatch {
    rows: Vec<NewEvent>,
}

#[derive(Debug)]
struct NewEvent {
    id: String,
    merchant_id: String,
    event_type: EventType,
    object_type: String,
    object_id: String,
    /// The object as JSON text.
    data: String,
    created_at: DateTime<Utc>,
}

/// Rows per INSERT: a payload is about 1 KiB, and a statement must stay
/// under about 16 KiB (see [`super::ROWS_PER_STATEMENT`]).
const EVENTS_PER_STATEMENT: usize = 16;

impl EventBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event whose `data` is `object` (any serialisable object, or
    /// an already built JSON value).
    pub fn push(
        &mut self,
        merchant_id: &str,
        event_type: EventType,
        object_type: &str,
        object_id: &str,
        object: impl Serialize,
        now: DateTime<Utc>,
    ) {
        // Serialising these plain structs and JSON values cannot fail.
        let data = serde_json::to_string(&object).unwrap_or_else(|_| "null".to_owned());
        self.rows.push(NewEvent {
            id: EventId::new().to_string(),
            merchant_id: merchant_id.to_owned(),
            event_type,
            object_type: object_type.to_owned(),
            object_id: object_id.to_owned(),
            data,
            created_at: now,
        });
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub async fn insert(mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        self.flush(db).await
    }

    /// Inserts the events pushed so far and empties the batch, so that a
    /// transaction can write them before it takes a lock it holds to commit.
    pub async fn flush(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        let backend = db.get_database_backend();
        let mut rows = std::mem::take(&mut self.rows).into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<NewEvent> = rows.by_ref().take(EVENTS_PER_STATEMENT).collect();
            db.execute_raw(insert_statement(backend, chunk)).await?;
        }
        Ok(())
    }
}

/// One multi-row INSERT. On PostgreSQL the payload text is cast to the
/// column's `json` type; SQLite stores it as text as it is.
fn insert_statement(backend: DatabaseBackend, chunk: Vec<NewEvent>) -> Statement {
    const COLUMNS: usize = 7;
    const DATA: usize = 5;
    let postgres = backend == DatabaseBackend::Postgres;
    let mut rows = Vec::with_capacity(chunk.len());
    let mut values = Vec::with_capacity(chunk.len() * COLUMNS);
    for (i, row) in chunk.into_iter().enumerate() {
        let params: Vec<String> = (0..COLUMNS)
            .map(|k| match (postgres, k) {
                (true, DATA) => format!("CAST(${} AS json)", i * COLUMNS + k + 1),
                (true, _) => format!("${}", i * COLUMNS + k + 1),
                (false, _) => "?".to_owned(),
            })
            .collect();
        rows.push(format!("({})", params.join(", ")));
        values.extend([
            Value::from(row.id),
            Value::from(row.merchant_id),
            Value::from(row.event_type.as_str()),
            Value::from(row.object_type),
            Value::from(row.object_id),
            Value::from(row.data),
            Value::from(row.created_at),
        ]);
    }
    let sql = format!(
        "INSERT INTO events (id, merchant_id, type, object_type, object_id, data, created_at) VALUES {}",
        rows.join(", ")
    );
    Statement::from_sql_and_values(backend, sql, values)
}

pub async fn for_object(db: &impl ConnectionTrait, object_id: &str) -> Result<Vec<Model>, DbErr> {
    Entity::find()
        .filter(Column::ObjectId.eq(object_id))
        .order_by_asc(Column::Id)
        .all(db)
        .await
}
