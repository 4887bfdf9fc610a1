//! The `sandbox_clock` table: the sandbox's test clocks, shared by every
//! process on the database and kept across restarts. The row [`DEPLOYMENT`]
//! is the deployment's clock; every other row is one merchant's (its id is
//! the merchant's id). See `clock::Clocks`.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

use super::queue;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_clock")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub now: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The deployment clock's row (no merchant id looks like it).
pub const DEPLOYMENT: &str = "default";

/// The time of clock `id`, if it has a row.
pub async fn load(db: &impl ConnectionTrait, id: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(Entity::find_by_id(id).one(db).await?.map(|m| m.now))
}

/// The time of clock `id`, locked until the transaction ends (PostgreSQL;
/// SQLite's write transaction holds the database).
pub async fn lock(db: &impl ConnectionTrait, id: &str) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(queue::lock_one(Entity::find_by_id(id), db)
        .await?
        .map(|m| m.now))
}

/// The time of clock `id`; a clock with no row gets one at `start` first
/// (a concurrent first read keeps the row the other one made).
pub async fn load_or_start(
    db: &impl ConnectionTrait,
    id: &str,
    start: DateTime<Utc>,
) -> Result<DateTime<Utc>, DbErr> {
    if let Some(now) = load(db, id).await? {
        return Ok(now);
    }
    Entity::insert(row(id, start))
        .on_conflict(OnConflict::column(Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    load(db, id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("sandbox clock {id}")))
}

/// Every clock's row.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Model>, DbErr> {
    Entity::find().all(db).await
}

/// Sets clock `id` to `now` (the caller checks it does not move backwards).
pub async fn save(db: &impl ConnectionTrait, id: &str, now: DateTime<Utc>) -> Result<(), DbErr> {
    Entity::insert(row(id, now))
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([Column::Now, Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

fn row(id: &str, now: DateTime<Utc>) -> ActiveModel {
    ActiveModel {
        id: Set(id.to_owned()),
        now: Set(now),
        updated_at: Set(now),
    }
}
