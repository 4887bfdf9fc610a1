//! The `sandbox_clock` table: the test clock's time, shared by every process on
//! the database and kept across restarts.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

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

const ROW: &str = "default";

pub async fn load(db: &impl ConnectionTrait) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(Entity::find_by_id(ROW).one(db).await?.map(|m| m.now))
}

pub async fn save(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    Entity::insert(ActiveModel {
        id: Set(ROW.to_owned()),
        now: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(Column::Id)
            .update_columns([Column::Now, Column::UpdatedAt])
            .to_owned(),
    )
    .exec(db)
    .await
    .map(|_| ())
}
