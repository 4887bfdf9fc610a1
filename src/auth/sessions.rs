//! Dashboard sessions. The browser's cookie holds a random token (32 bytes,
//! base64url); the database holds only its SHA-256, with the session's
//! expiry. The CSRF token of a session's forms is derived from its token,
//! so nothing more is stored and a forged page cannot know it. Tokens are
//! never logged.

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::domain::ids::SessionId;
use crate::error::Result;
use crate::store::{dashboard_sessions, merchant_users, merchants};

/// Characters of a token: 32 random bytes in base64url without padding.
pub const TOKEN_LEN: usize = 43;

/// A random token (for a session, an invitation or a CSRF cookie).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `token` has the shape of one made by [`new_token`] (no query is
/// made for one that cannot be).
pub fn well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The CSRF token of forms shown to whoever holds `token`.
pub fn csrf_token(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"pushbill dashboard csrf\0");
    h.update(token.as_bytes());
    hex::encode(h.finalize())
}

/// Compares two CSRF tokens in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Starts a session for `user`; the token goes into the cookie and nowhere else.
pub async fn start(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user: &merchant_users::Model,
    lifetime: Duration,
) -> Result<String> {
    let token = new_token();
    dashboard_sessions::Entity::insert(dashboard_sessions::ActiveModel {
        id: Set(SessionId::new().to_string()),
        token_hash: Set(hash(&token)),
        user_id: Set(user.id.clone()),
        merchant_id: Set(user.merchant_id.clone()),
        created_at: Set(now),
        expires_at: Set(now + lifetime),
    })
    .exec_without_returning(db)
    .await?;
    Ok(token)
}

/// Who is signed in with `token`.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session_id: String,
    pub user: merchant_users::Model,
    pub merchant: merchants::Model,
}

/// The live session behind `token`, `None` for an unknown, malformed or
/// expired one.
pub async fn find(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    token: &str,
) -> Result<Option<SignedIn>> {
    if !well_formed(token) {
        return Ok(None);
    }
    let Some(session) = dashboard_sessions::Entity::find()
        .filter(dashboard_sessions::Column::TokenHash.eq(hash(token)))
        .filter(dashboard_sessions::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let user = merchant_users::Entity::find_by_id(&session.user_id)
        .one(db)
        .await?;
    let merchant = merchants::Entity::find_by_id(&session.merchant_id)
        .one(db)
        .await?;
    Ok(match (user, merchant) {
        (Some(user), Some(merchant)) if user.merchant_id == merchant.id => Some(SignedIn {
            session_id: session.id,
            user,
            merchant,
        }),
        _ => None,
    })
}

/// Ends the session behind `token` (signing out); nothing for an unknown one.
pub async fn end(db: &impl ConnectionTrait, token: &str) -> Result<()> {
    if well_formed(token) {
        dashboard_sessions::Entity::delete_many()
            .filter(dashboard_sessions::Column::TokenHash.eq(hash(token)))
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_stored_hashed() {
        let a = new_token();
        assert!(well_formed(&a), "{a}");
        assert_ne!(a, new_token());
        assert_eq!(hash(&a).len(), 64);
        assert!(!hash(&a).contains(&a));
        assert!(!well_formed("short"));
        assert!(!well_formed(&format!("{}!", &a[..42])));
    }

    #[test]
    fn the_csrf_token_differs_from_the_session_token_and_per_session() {
        let a = new_token();
        let b = new_token();
        assert_ne!(csrf_token(&a), csrf_token(&b));
        assert_ne!(csrf_token(&a), hash(&a));
        assert!(same_token(&csrf_token(&a), &csrf_token(&a)));
        assert!(!same_token(&csrf_token(&a), &csrf_token(&b)));
        assert!(!same_token("abc", "abcd"));
    }
}
