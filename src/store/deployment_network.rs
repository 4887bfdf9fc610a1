//! The `deployment_network` table: which network this database belongs to
//! (one row), so that a process configured for another network refuses it.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deployment_network")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `sandbox`, `regtest`, `signet`, `testnet` or `mainnet`.
    pub network: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

const ROW: &str = "deployment";

/// The database's network: the one recorded, or `network` recorded now by
/// the first process to ask (several starting at once agree on one).
pub async fn claim(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    network: &str,
) -> Result<String, DbErr> {
    let row = ActiveModel {
        id: Set(ROW.to_owned()),
        network: Set(network.to_owned()),
        created_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict(OnConflict::column(Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    let recorded = Entity::find_by_id(ROW)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("deployment_network".into()))?;
    Ok(recorded.network)
}
