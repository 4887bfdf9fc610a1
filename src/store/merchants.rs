//! The `merchants` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub invoice_prefix: String,
    pub next_invoice_number: i64,
    pub settings: Json,
    /// May drive the deployment's Lightning node (/v1/node).
    pub node_operator: bool,
    /// The fiat value shown beside sat prices (`catalog::fiat`): all three
    /// set, or all three null.
    pub fiat_currency: Option<String>,
    pub fiat_minor_per_btc: Option<i64>,
    pub fiat_rate_set_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
