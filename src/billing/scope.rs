//! Whose billing an engine run applies.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

/// Whose billing a run applies: everyone's (one clock for all), or one
/// merchant's at that merchant's own time (the sandbox's test clocks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Merchant(String),
}

impl Scope {
    /// `query` narrowed to this scope's rows (`merchant_id`: the table's
    /// merchant column).
    pub fn filter<E: EntityTrait>(&self, query: Select<E>, merchant_id: E::Column) -> Select<E> {
        match self {
            Scope::All => query,
            Scope::Merchant(id) => query.filter(merchant_id.eq(id.as_str())),
        }
    }
}
