//! Login throttling: failed sign-ins are counted per account and per client
//! address in the `login_throttle` table (so every web process sees the
//! same counts). Past a limit within the window, sign-in is refused until
//! the window ends, even with the right password. Wall-clock time: the
//! sandbox's test clock moves billing, not security windows.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::error::Result;
use crate::store::login_throttle;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_account: u32,
    pub per_address: u32,
    pub window: Duration,
}

/// The keys one sign-in counts against.
pub fn keys(email: &str, address: &str) -> [(String, bool); 2] {
    [
        (format!("account:{}", email.to_lowercase()), true),
        (format!("address:{address}"), false),
    ]
}

/// `Some(wait)` when a key is over its limit: how long until it may try again.
pub async fn blocked(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limits: &Limits,
    email: &str,
    address: &str,
) -> Result<Option<Duration>> {
    let mut wait: Option<Duration> = None;
    for (key, account) in keys(email, address) {
        let Some(row) = login_throttle::Entity::find_by_id(key).one(db).await? else {
            continue;
        };
        let limit = if account {
            limits.per_account
        } else {
            limits.per_address
        };
        let ends = row.window_start + limits.window;
        if ends > now && row.failures >= limit as i32 {
            let left = ends - now;
            wait = Some(wait.map_or(left, |w| w.max(left)));
        }
    }
    Ok(wait)
}

/// Counts a failed sign-in against both keys: a window that has ended
/// starts again at 1. One statement per key, so concurrent failures add up.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limits: &Limits,
    email: &str,
    address: &str,
) -> Result<()> {
    for (key, _) in keys(email, address) {
        bump(db, now, key, limits.window).await?;
    }
    Ok(())
}

/// Counts one use of `key` (the same table, other keys: the hosted signup
/// pages' `signup:...`) and, when that use is over `limit` in the current
/// window, how long until the window ends. Every use counts, refused ones
/// too, so hammering keeps a key refused.
pub async fn take(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<Option<Duration>> {
    bump(db, now, key.to_owned(), window).await?;
    let Some(row) = login_throttle::Entity::find_by_id(key).one(db).await? else {
        return Ok(None);
    };
    let ends = row.window_start + window;
    Ok((row.failures > i32::try_from(limit).unwrap_or(i32::MAX) && ends > now).then(|| ends - now))
}

/// Adds 1 to `key`'s count: a window that has ended starts again at 1. One
/// statement, so concurrent uses add up.
async fn bump(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: String,
    window: Duration,
) -> Result<()> {
    let window_over =
        Expr::col((login_throttle::Entity, login_throttle::Column::WindowStart)).lte(now - window);
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(key),
        failures: Set(1),
        window_start: Set(now),
    })
    .on_conflict(
        OnConflict::column(login_throttle::Column::Key)
            .value(
                login_throttle::Column::Failures,
                Expr::case(window_over.clone(), 1).finally(
                    Expr::col((login_throttle::Entity, login_throttle::Column::Failures)).add(1),
                ),
            )
            .value(
                login_throttle::Column::WindowStart,
                Expr::case(window_over.clone(), now).finally(Expr::col((
                    login_throttle::Entity,
                    login_throttle::Column::WindowStart,
                ))),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A successful sign-in clears the account's count (not the address's).
pub async fn clear_account(db: &impl ConnectionTrait, email: &str) -> Result<()> {
    let [(account, _), _] = keys(email, "");
    login_throttle::Entity::delete_by_id(account)
        .exec(db)
        .await?;
    Ok(())
}
