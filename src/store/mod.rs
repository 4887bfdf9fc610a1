//! The database: connection, migrations, and one module per table with the
//! queries that touch it. Works the same on SQLite and PostgreSQL.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseBackend,
    DatabaseConnection, DbErr, EntityTrait,
};

pub mod api_keys;
pub mod customers;
pub mod dashboard_invites;
pub mod dashboard_sessions;
pub mod deployment_network;
pub mod email_digests;
pub mod events;
pub mod grants;
pub mod idempotency_keys;
pub mod invoices;
pub mod login_throttle;
pub mod merchant_users;
pub mod merchants;
pub mod node_identity;
pub mod outgoing_emails;
pub mod page;
pub mod paid_revenue_months;
pub mod pay_links;
pub mod payment_requests;
pub mod plans;
pub mod portal_links;
pub mod portal_sessions;
pub mod push_attempts;
pub mod queue;
pub mod sandbox_clock;
pub mod subscribe_codes;
pub mod subscribe_offers;
pub mod subscription_status_counts;
pub mod subscriptions;
pub mod unpaid_digest_items;
pub mod wallet_connections;
pub mod webhook_deliveries;
pub mod webhook_delivery_attempts;
pub mod webhook_endpoints;
pub mod webhook_inspector_requests;

pub use sea_orm::DatabaseConnection as Db;

/// Opens the database named by `url` with a pool of up to `max_connections`.
/// A SQLite file and its folder are created when missing. On SQLite (WAL)
/// the pool's connections read side by side while one of them writes: every
/// transaction that writes begins with [`begin_write`] (`BEGIN IMMEDIATE`,
/// so it takes the one write lock up front and a read lock is never
/// upgraded, which could deadlock), other writes are single statements that
/// wait for the lock (`busy_timeout`), and a commit is seen by every read
/// that starts after it, on any connection. An in-memory SQLite database is
/// one connection (each connection would be a database of its own).
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        create_sqlite_parent_dir(url)?;
        let connections = if sqlite_path(url).is_some() {
            max_connections.max(1)
        } else {
            1
        };
        options
            .max_connections(connections)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30))
            });
    } else {
        options.max_connections(max_connections);
    }
    Database::connect(options).await
}

/// The file behind a SQLite URL, `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<&str> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then_some(path)
}

fn create_sqlite_parent_dir(url: &str) -> Result<(), DbErr> {
    let Some(path) = sqlite_path(url) else {
        return Ok(());
    };
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create database folder {}: {e}",
                parent.display()
            ))
        })?;
    }
    Ok(())
}

/// Applies every pending migration. Processes that start together on one
/// database migrate one after another (the later ones find nothing pending)
/// instead of racing to create tables: PostgreSQL takes an advisory lock,
/// SQLite a lock on a file beside the database.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if !is_postgres(db) {
        let options = db.get_sqlite_connection_pool().connect_options();
        let path = options.get_filename();
        if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
            return Migrator::up(db, None).await;
        }
        let lock_err = |e: std::io::Error| DbErr::Custom(format!("migration lock: {e}"));
        let lock =
            std::fs::File::create(format!("{}.migrate-lock", path.display())).map_err(lock_err)?;
        lock.lock().map_err(lock_err)?;
        let result = Migrator::up(db, None).await;
        drop(lock); // closing the file releases the lock
        return result;
    }
    use sea_orm::sqlx;
    let sqlx_err = |e: sqlx::Error| DbErr::Custom(format!("migration lock: {e}"));
    // The lock belongs to one session: hold one connection for lock and unlock.
    let mut lock = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(sqlx_err)?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_ID)
        .execute(&mut *lock)
        .await
        .map_err(sqlx_err)?;
    let result = Migrator::up(db, None).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_ID)
        .execute(&mut *lock)
        .await
        .map_err(sqlx_err)?;
    result
}

/// Key of the advisory lock taken while migrating ("pushbill" in ASCII).
const MIGRATION_LOCK_ID: i64 = 0x7075_7368_6269_6c6c;

/// Names of migrations not yet applied.
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbErr> {
    Ok(Migrator::get_pending_migrations(db)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect())
}

/// Every migration with whether it has been applied.
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    let pending = pending_migrations(db).await?;
    Ok(Migrator::migrations()
        .iter()
        .map(|m| {
            let name = m.name().to_owned();
            let applied = !pending.contains(&name);
            (name, applied)
        })
        .collect())
}

pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Rows per multi-row statement. Statements are kept under ~16 KiB: sqlx
/// does not set TCP_NODELAY, and a larger message sent over TCP stalls for a
/// delayed ACK (40 ms) on Linux. See docs/performance.md.
pub const ROWS_PER_STATEMENT: usize = 40;

/// Ids per `IN (...)` list, for the same reason as [`ROWS_PER_STATEMENT`].
pub const IDS_PER_QUERY: usize = 200;

/// Inserts rows in chunks of [`ROWS_PER_STATEMENT`].
pub async fn insert_all<A>(db: &impl ConnectionTrait, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    insert_in_chunks(db, rows, ROWS_PER_STATEMENT).await
}

/// Inserts rows, `chunk` rows per statement.
pub async fn insert_in_chunks<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    chunk: usize,
) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(chunk).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub fn is_postgres(db: &impl ConnectionTrait) -> bool {
    db.get_database_backend() == DatabaseBackend::Postgres
}

/// Creates an empty database named `name` on the PostgreSQL server behind
/// `admin_url` and returns the URL to it. For tests and benchmarks.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String, DbErr> {
    check_database_name(name)?;
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    let mut url = url::Url::parse(admin_url).map_err(|e| DbErr::Custom(e.to_string()))?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// Database names are spliced into SQL: only `[a-z0-9_]` is allowed.
fn check_database_name(name: &str) -> Result<(), DbErr> {
    if name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Ok(())
    } else {
        Err(DbErr::Custom(format!("unsafe database name {name}")))
    }
}

/// Drops a database made by [`create_postgres_database`].
pub async fn drop_postgres_database(admin_url: &str, name: &str) -> Result<(), DbErr> {
    check_database_name(name)?;
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await
}

/// The rows whose `column` is one of `ids` (duplicates asked once), in
/// `IN` lists of [`IDS_PER_QUERY`].
pub async fn find_by_ids<'a, E>(
    db: &impl ConnectionTrait,
    column: E::Column,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut ids: Vec<&str> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        rows.extend(
            E::find()
                .filter(column.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

/// Writes `columns` of existing rows back in bulk: an upsert on the `id`
/// primary key, one statement per chunk on both backends.
pub async fn update_columns<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    id: <A::Entity as EntityTrait>::Column,
    columns: &[<A::Entity as EntityTrait>::Column],
) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    update_columns_in_chunks(db, rows, id, columns, ROWS_PER_STATEMENT).await
}

/// [`update_columns`], `chunk` rows per statement (fewer for wide rows, to
/// stay under the ~16 KiB of [`ROWS_PER_STATEMENT`]).
pub async fn update_columns_in_chunks<A>(
    db: &impl ConnectionTrait,
    rows: Vec<A>,
    id: <A::Entity as EntityTrait>::Column,
    columns: &[<A::Entity as EntityTrait>::Column],
    chunk: usize,
) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(chunk.max(1)).collect();
        A::Entity::insert_many(chunk)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(id)
                    .update_columns(columns.iter().copied())
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// Writes every column of a changed row back by its primary key.
pub async fn save<M, A>(db: &impl ConnectionTrait, row: M) -> Result<(), DbErr>
where
    M: sea_orm::IntoActiveModel<A>,
    A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
    A::Entity::update(row.into_active_model().reset_all())
        .exec(db)
        .await?;
    Ok(())
}

/// Begins a transaction that will write. On SQLite it takes the write lock up
/// front (`BEGIN IMMEDIATE`), so a second process waits its turn instead of
/// failing when its read lock cannot be upgraded. Under an `Idempotency-Key`
/// the request's first write transaction also claims the key, so the key
/// commits with the request's effect (see [`idempotency_keys::claim_in`]).
pub async fn begin_write(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
    let txn = if is_postgres(db) {
        db.begin().await?
    } else {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?
    };
    idempotency_keys::claim_in(&txn).await?;
    Ok(txn)
}

/// True for a database error that trying again can cure: no connection, a
/// busy or locked SQLite file, a PostgreSQL serialization failure, deadlock
/// or shutdown. A constraint, a value the database refuses or a bug in a
/// statement comes back on every try.
pub fn is_transient(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(_) | DbErr::Query(_) => {
            let message = e.to_string().to_lowercase();
            [
                "database is locked",
                "database is busy",
                "could not serialize",
                "deadlock",
                "connection",
                "timed out",
                "shutting down",
                "i/o",
                "broken pipe",
            ]
            .iter()
            .any(|m| message.contains(m))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbErr, RuntimeErr};

    use super::is_transient;

    #[test]
    fn only_errors_a_retry_can_cure_are_transient() {
        let exec = |m: &str| DbErr::Exec(RuntimeErr::Internal(m.to_owned()));
        assert!(is_transient(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        assert!(is_transient(&exec("database is locked")));
        assert!(is_transient(&exec(
            "could not serialize access due to concurrent update"
        )));
        assert!(!is_transient(&exec(
            "UNIQUE constraint failed: invoices.id"
        )));
        assert!(!is_transient(&exec(
            "invalid byte sequence for encoding \"UTF8\": 0x00"
        )));
        assert!(!is_transient(&DbErr::Custom("corrupt".into())));
        assert!(!is_transient(&DbErr::RecordNotFound("x".into())));
    }
}
