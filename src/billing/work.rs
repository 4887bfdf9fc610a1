//! Claiming rows of work. On PostgreSQL the rows are locked with
//! `FOR UPDATE SKIP LOCKED`, so several processes share a queue without doing
//! anything twice; SQLite has one writer at a time and needs no lock.

use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QuerySelect, Select};

use crate::store;

pub async fn claim<E: EntityTrait>(
    query: Select<E>,
    db: &impl ConnectionTrait,
) -> Result<Vec<E::Model>, DbErr> {
    let query = if store::is_postgres(db) {
        query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
    } else {
        query
    };
    query.all(db).await
}

/// Loads one row for a change, waiting for (never skipping) another writer's
/// lock on PostgreSQL.
pub async fn lock_one<E: EntityTrait>(
    query: Select<E>,
    db: &impl ConnectionTrait,
) -> Result<Option<E::Model>, DbErr> {
    let query = if store::is_postgres(db) {
        query.lock_exclusive()
    } else {
        query
    };
    query.one(db).await
}
