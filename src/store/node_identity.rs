//! The `node_identity` table: the node id and public address the node role
//! last started with (one row), for the roles that do not run the node.

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "node_identity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// 66 lowercase hex.
    pub node_id: String,
    /// `host:port` where subscribers' nodes reach it.
    pub address: String,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

const ROW: &str = "node";

/// Records the running node (the node role calls it when it starts).
pub async fn record(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    node_id: &str,
    address: &str,
) -> Result<(), DbErr> {
    let row = ActiveModel {
        id: Set(ROW.to_owned()),
        node_id: Set(node_id.to_owned()),
        address: Set(address.to_owned()),
        updated_at: Set(now),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Id)
                .update_columns([Column::NodeId, Column::Address, Column::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The node as last recorded, `None` before the node role ever started.
pub async fn get(db: &impl ConnectionTrait) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id(ROW).one(db).await
}
