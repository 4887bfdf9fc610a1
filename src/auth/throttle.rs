//! Login throttling: failed sign-ins are counted per account and per client
//! address in the `login_throttle` table (so every web process sees the
//! same counts). Past a limit within the window, sign-in is refused until
//! the window ends, even with the right password. [`over`], [`count`]
//! and [`take`] serve any other key (the portal's sign-in link requests, the
//! signup pages' counts). Wall-clock time: the
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
        let limit = if account {
            limits.per_account
        } else {
            limits.per_address
        };
        if let Some(left) = over(db, now, limits.window, limit, &key).await? {
            wait = Some(wait.map_or(left, |w| w.max(left)));
        }
    }
    Ok(wait)
}

/// Counts a failed sign-in against both keys.
pub async fn record_failure(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limits: &Limits,
    email: &str,
    address: &str,
) -> Result<()> {
    for (key, _) in keys(email, address) {
        count(db, now, limits.window, key).await?;
    }
    Ok(())
}

/// `Some(wait)` when `key` has been counted `limit` times in a window that
/// has not ended: how long until it ends. (Any key: the customer portal
/// counts its sign-in link requests here too.)
pub async fn over(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    window: Duration,
    limit: u32,
    key: &str,
) -> Result<Option<Duration>> {
    let Some(row) = login_throttle::Entity::find_by_id(key).one(db).await? else {
        return Ok(None);
    };
    let ends = row.window_start + window;
    Ok((ends > now && i64::from(row.failures) >= i64::from(limit)).then(|| ends - now))
}

/// Counts one more against `key`: a window that has ended starts again at
/// 1. One statement, so concurrent counts add up.
pub async fn count(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    window: Duration,
    key: String,
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
                Expr::case(window_over, now).finally(Expr::col((
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
    count(db, now, window, key.to_owned()).await?;
    over(db, now, window, limit.saturating_add(1), key).await
}

/// A successful sign-in clears the account's count (not the address's).
pub async fn clear_account(db: &impl ConnectionTrait, email: &str) -> Result<()> {
    let [(account, _), _] = keys(email, "");
    login_throttle::Entity::delete_by_id(account)
        .exec(db)
        .await?;
    Ok(())
}
