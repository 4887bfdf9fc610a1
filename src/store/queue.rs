//! Tables used as queues: claiming due rows, and leasing them to the worker
//! that claimed them.
//!
//! On PostgreSQL the claimed rows are locked with `FOR UPDATE SKIP LOCKED`,
//! so several processes share a queue without doing anything twice. SQLite
//! needs no row lock: the claim runs in a transaction begun with
//! [`super::begin_write`] (`BEGIN IMMEDIATE`), which holds the one write lock.
//!
//! A queue whose claim is also its state change (a period roll, a dunning
//! step, the fan-out) uses [`claim`] and commits the change in the same
//! transaction. A queue whose work happens after the commit (an HTTP call,
//! an SMTP send, a push to a node) also takes a [`Lease`] with
//! [`claim_leased`]: the rows stay out of the queue until the lease runs out,
//! so a worker that dies mid-send leaves them to be claimed again.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Iterable, ModelTrait,
    PrimaryKeyToColumn, QueryFilter, QuerySelect, Select, Value,
};

use crate::store;

/// Where a queue keeps its lease, and when the lease of this claim runs out.
#[derive(Debug, Clone, Copy)]
pub struct Lease<C> {
    /// A nullable timestamp column of the queue's table: `locked_until`
    /// (wall-clock time, see [`not_leased`]), or a due time the claim pushes
    /// back (the email outbox's `next_attempt_at`).
    pub column: C,
    pub until: DateTime<Utc>,
}

/// Selects and locks the rows of `query` (due rows, ordered and limited by
/// the caller) for this transaction, skipping rows another transaction holds.
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

/// Claims the rows of `query` as [`claim`] does and leases them: sets
/// `lease.column` to `lease.until` on each, in the database and in the rows
/// returned. `query` must leave out rows whose lease has not run out.
pub async fn claim_leased<E: EntityTrait>(
    query: Select<E>,
    lease: Lease<E::Column>,
    db: &impl ConnectionTrait,
) -> Result<Vec<E::Model>, DbErr> {
    let rows = claim(query, db).await?;
    self::lease(rows, lease, db).await
}

/// Leases rows already claimed in this transaction (for a queue that picks
/// among the rows it claimed, e.g. one webhook delivery per endpoint).
pub async fn lease<M: ModelTrait>(
    mut rows: Vec<M>,
    lease: Lease<<M::Entity as EntityTrait>::Column>,
    db: &impl ConnectionTrait,
) -> Result<Vec<M>, DbErr> {
    type Entity<M> = <M as ModelTrait>::Entity;
    let primary_key = <Entity<M> as EntityTrait>::PrimaryKey::iter().next();
    let Some(id) = primary_key.map(|k| k.into_column()) else {
        return Err(DbErr::Custom("a queue table needs a primary key".into()));
    };
    let ids: Vec<Value> = rows.iter().map(|r| r.get(id)).collect();
    for chunk in ids.chunks(store::IDS_PER_QUERY) {
        Entity::<M>::update_many()
            .col_expr(lease.column, Expr::value(lease.until))
            .filter(id.is_in(chunk.iter().cloned()))
            .exec(db)
            .await?;
    }
    for row in &mut rows {
        row.try_set(lease.column, Some(lease.until).into())?;
    }
    Ok(rows)
}

/// Rows whose wall-clock lease in `column` is unset or ran out before `wall`.
pub fn not_leased<C: ColumnTrait>(column: C, wall: DateTime<Utc>) -> Condition {
    Condition::any().add(column.is_null()).add(column.lt(wall))
}

/// Whether `query` finds a row, by a plain read: an idle worker looks
/// before it takes the write lock.
pub async fn any_due<E: EntityTrait>(
    query: Select<E>,
    db: &impl ConnectionTrait,
) -> Result<bool, DbErr> {
    Ok(query.one(db).await?.is_some())
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

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use sea_orm::{ActiveValue::Set, QueryOrder};

    use super::*;
    use crate::store::{self, outgoing_emails as emails};

    /// A fresh in-memory SQLite database with `due` outbox rows due at
    /// `at`, one due a day later and one with no due time.
    async fn outbox(at: DateTime<Utc>, due: usize) -> (store::Db, Vec<String>) {
        let db = store::connect("sqlite::memory:", 1).await.unwrap();
        store::migrate(&db).await.unwrap();
        let merchant = crate::catalog::merchants::create(&db, at, "Shop", "SHOP")
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..due + 2 {
            let id = format!("em_{i}");
            let next = match i {
                i if i < due => Some(at + Duration::seconds(i as i64)),
                i if i == due => Some(at + Duration::days(1)),
                _ => None,
            };
            emails::Entity::insert(emails::ActiveModel {
                id: Set(id.clone()),
                merchant_id: Set(merchant.id.clone()),
                event_id: Set(None),
                kind: Set("receipt".into()),
                to_address: Set(format!("c{i}@example.com")),
                subject: Set("s".into()),
                body_text: Set("t".into()),
                body_html: Set("h".into()),
                status: Set(crate::domain::OutgoingEmailStatus::Pending.as_str().into()),
                attempt_count: Set(0),
                next_attempt_at: Set(next),
                last_error: Set(None),
                sent_at: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
            })
            .exec_without_returning(&db)
            .await
            .unwrap();
            ids.push(id);
        }
        (db, ids)
    }

    fn due(now: DateTime<Utc>) -> Select<emails::Entity> {
        emails::Entity::find()
            .filter(emails::Column::NextAttemptAt.lte(now))
            .order_by_asc(emails::Column::NextAttemptAt)
            .order_by_asc(emails::Column::Id)
    }

    async fn next_attempts(db: &store::Db) -> Vec<Option<DateTime<Utc>>> {
        emails::Entity::find()
            .order_by_asc(emails::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.next_attempt_at)
            .collect()
    }

    #[tokio::test]
    async fn a_claim_leases_the_rows_it_returns_and_no_others() {
        let now: DateTime<Utc> = "2027-12-01T00:00:00Z".parse().unwrap();
        let (db, ids) = outbox(now, 3).await;
        let until = now + Duration::minutes(10);
        let lease = Lease {
            column: emails::Column::NextAttemptAt,
            until,
        };
        let later = now + Duration::seconds(5);

        let txn = store::begin_write(&db).await.unwrap();
        let first = claim_leased(due(later).limit(2), lease, &txn)
            .await
            .unwrap();
        txn.commit().await.unwrap();
        let claimed: Vec<&str> = first.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(claimed, [ids[0].as_str(), ids[1].as_str()]);
        assert!(first.iter().all(|r| r.next_attempt_at == Some(until)));
        let stored = next_attempts(&db).await;
        assert_eq!(stored[..2], [Some(until), Some(until)]);
        assert_eq!(stored[2], Some(now + Duration::seconds(2)), "not claimed");

        // The leased rows are out of the queue until the lease runs out.
        let txn = store::begin_write(&db).await.unwrap();
        let second = claim_leased(due(later), lease, &txn).await.unwrap();
        txn.commit().await.unwrap();
        let claimed: Vec<&str> = second.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(claimed, [ids[2].as_str()]);
        let txn = store::begin_write(&db).await.unwrap();
        assert!(
            claim_leased(due(later), lease, &txn)
                .await
                .unwrap()
                .is_empty()
        );
        txn.commit().await.unwrap();
        assert!(!any_due(due(later), &db).await.unwrap());
        assert!(any_due(due(until), &db).await.unwrap());
    }

    #[tokio::test]
    async fn a_lease_is_free_when_unset_or_run_out() {
        let now: DateTime<Utc> = "2027-12-01T00:00:00Z".parse().unwrap();
        let (db, ids) = outbox(now, 1).await;
        let free = |wall| {
            emails::Entity::find()
                .filter(not_leased(emails::Column::NextAttemptAt, wall))
                .order_by_asc(emails::Column::Id)
        };
        let ids_of = |rows: Vec<emails::Model>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
        // em_0 until `now`, em_1 until tomorrow, em_2 unset.
        assert_eq!(ids_of(free(now).all(&db).await.unwrap()), [ids[2].as_str()]);
        let after = now + Duration::seconds(1);
        assert_eq!(
            ids_of(free(after).all(&db).await.unwrap()),
            [ids[0].as_str(), ids[2].as_str()]
        );
        let txn = store::begin_write(&db).await.unwrap();
        let none = lease::<emails::Model>(
            Vec::new(),
            Lease {
                column: emails::Column::NextAttemptAt,
                until: now,
            },
            &txn,
        )
        .await
        .unwrap();
        txn.commit().await.unwrap();
        assert!(none.is_empty());
    }
}
