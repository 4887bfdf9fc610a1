//! The `portal_links` table: single-use sign-in links to the customer
//! portal. The link's URL holds a random token; only its SHA-256
//! (`token_hash`) is stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "portal_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub token_hash: String,
    pub merchant_id: String,
    pub customer_id: String,
    /// `email` (asked for on the portal) or `api`.
    pub source: String,
    pub created_at: DateTimeUtc,
    /// On the merchant's clock.
    pub expires_at: DateTimeUtc,
    pub used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
