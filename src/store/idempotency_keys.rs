//! The `idempotency_keys` table: one row per `Idempotency-Key` a merchant
//! sent, claimed before the request runs and completed with its response.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub request_hash: String,
    /// `None` while the first request is still running.
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Claims the key for a request; false when a row for it already exists.
pub async fn claim(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let inserted = Entity::insert(ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::MerchantId, Column::Key])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

pub async fn find(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    key: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id((merchant_id.to_owned(), key.to_owned()))
        .one(db)
        .await
}

/// Stores the response of the request that claimed the key.
pub async fn complete(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    key: &str,
    status: u16,
    body: String,
) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::ResponseStatus, i32::from(status).into())
        .col_expr(Column::ResponseBody, body.into())
        .filter(Column::MerchantId.eq(merchant_id))
        .filter(Column::Key.eq(key))
        .exec(db)
        .await
        .map(|_| ())
}

/// Forgets a key (expired, or its request could not be recorded).
pub async fn release(db: &impl ConnectionTrait, merchant_id: &str, key: &str) -> Result<(), DbErr> {
    Entity::delete_by_id((merchant_id.to_owned(), key.to_owned()))
        .exec(db)
        .await
        .map(|_| ())
}
