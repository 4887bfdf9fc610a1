//! The `subscription_status_counts` table: signed deltas of subscriptions
//! per (merchant, plan, status), written by database triggers on
//! `subscriptions` (migration 36) and folded by `catalog::metrics::compact`.
//! Their sum per group is the number of the merchant's subscriptions there.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_status_counts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub plan_id: String,
    pub status: String,
    pub n: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
