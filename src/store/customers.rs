//! The `customers` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub merchant_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    pub node_id: Option<String>,
    pub node_address: Option<String>,
    /// The node id was proven by a subscribe handshake (not typed in).
    pub node_id_verified: bool,
    pub metadata: Json,
    /// Credit held for the customer: received msat no invoice took, taken
    /// off their next invoice.
    pub balance_msat: i64,
    pub deleted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ConnectionTrait, IntoActiveModel, QuerySelect,
};

/// Writes a customer's details back; the balance is left alone, so a
/// concurrent [`add_to_balance`] or [`take_from_balance`] is never undone.
pub async fn save_details(db: &impl ConnectionTrait, row: Model) -> Result<(), DbErr> {
    let mut active = row.into_active_model().reset_all();
    active.balance_msat = NotSet;
    Entity::update(active).exec(db).await.map(|_| ())
}

/// Adds `amount_msat` to the customer's balance (in one statement, so
/// concurrent writers add up) and returns the customer as it now is.
pub async fn add_to_balance(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    customer_id: &str,
    amount_msat: i64,
) -> Result<Model, DbErr> {
    Entity::update_many()
        .col_expr(
            Column::BalanceMsat,
            Expr::col(Column::BalanceMsat).add(amount_msat),
        )
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(customer_id))
        .exec(db)
        .await?;
    Entity::find_by_id(customer_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("customer {customer_id}")))
}

/// Takes up to `wanted_msat` from the customer's balance (the row locked on
/// PostgreSQL); returns what was taken and the customer, `None` when the
/// balance is empty.
pub async fn take_from_balance(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    customer_id: &str,
    wanted_msat: i64,
) -> Result<Option<(i64, Model)>, DbErr> {
    let mut query = Entity::find_by_id(customer_id);
    if super::is_postgres(db) {
        query = query.lock_exclusive();
    }
    let Some(customer) = query.one(db).await? else {
        return Ok(None);
    };
    let taken = std::cmp::min(customer.balance_msat, wanted_msat);
    if taken <= 0 {
        return Ok(None);
    }
    add_to_balance(db, now, customer_id, -taken)
        .await
        .map(|c| Some((taken, c)))
}

/// The ids of those of `customer_ids` that hold credit.
pub async fn with_balance(
    db: &impl ConnectionTrait,
    customer_ids: Vec<String>,
) -> Result<std::collections::HashSet<String>, DbErr> {
    let mut found = std::collections::HashSet::new();
    for chunk in customer_ids.chunks(super::IDS_PER_QUERY) {
        let ids: Vec<String> = Entity::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Id.is_in(chunk.iter().cloned()))
            .filter(Column::BalanceMsat.gt(0))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(ids);
    }
    Ok(found)
}
