//! The `paid_revenue_months` table: signed deltas of the money of a
//! merchant's paid invoices per calendar month of `paid_at` (UTC,
//! `YYYY-MM`), written by database triggers on `invoices` (migration 36)
//! and folded by `catalog::metrics::compact`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "paid_revenue_months")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: String,
    pub month: String,
    pub paid_msat: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
