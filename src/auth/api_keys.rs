//! Merchants' API keys. A secret looks like `pb_test_<32 base62 chars>`
//! (`pb_live_` off the sandbox). Only its SHA-256 hash is stored; the secret is
//! shown once, when the key is created. Secrets are never logged.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use sha2::{Digest, Sha256};

use crate::config::Network;
use crate::domain::ids::ApiKeyId;
use crate::error::{Error, Result};
use crate::store::api_keys;
use crate::store::page::{self, Page, PageParams};

/// Characters of the secret kept in clear for display (`pb_test_AbCd`).
pub const PREFIX_LEN: usize = 12;
const RANDOM_LEN: usize = 32;
/// `last_used_at` is written at most this often per key.
const LAST_USED_RESOLUTION: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Test,
    Live,
}

impl Mode {
    /// Test keys on the sandbox network, live keys everywhere else.
    pub fn for_network(network: Network) -> Self {
        match network {
            Network::Sandbox => Mode::Test,
            _ => Mode::Live,
        }
    }

    /// Whether objects are live (`livemode: true` on every API object and
    /// event): live keys, live objects.
    pub fn is_live(self) -> bool {
        self == Mode::Live
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }
}

/// A key just created: the only time its secret is available.
pub struct CreatedKey {
    pub key: api_keys::Model,
    pub secret: String,
}

impl std::fmt::Debug for CreatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedKey")
            .field("key", &self.key)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// Creates a key for the merchant and returns its secret (shown once).
pub async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    name: &str,
    mode: Mode,
) -> Result<CreatedKey> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "must be 1 to 100 characters"));
    }
    let random: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(RANDOM_LEN)
        .map(char::from)
        .collect();
    let secret = format!("pb_{}_{random}", mode.as_str());
    let row = api_keys::ActiveModel {
        id: Set(ApiKeyId::new().to_string()),
        merchant_id: Set(merchant_id.to_owned()),
        name: Set(name.to_owned()),
        mode: Set(mode.as_str().to_owned()),
        prefix: Set(secret[..PREFIX_LEN].to_owned()),
        secret_hash: Set(hash(&secret)),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
    };
    let key = row.insert(db).await?;
    Ok(CreatedKey { key, secret })
}

/// Who a request's key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub key_id: String,
    pub merchant_id: String,
}

/// Why a secret opens nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Unknown, revoked, or not shaped like a key.
    Unknown,
    /// A key of the other mode: a `pb_test_` key on a live deployment, or a
    /// `pb_live_` key on the sandbox. Refused before any lookup, so a
    /// sandbox's keys can never move money on a real network, even on a
    /// database copied from the sandbox.
    WrongMode(Mode),
}

/// The key and merchant behind a secret, on a deployment of `mode`.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    secret: &str,
    mode: Mode,
) -> Result<std::result::Result<KeyOwner, Refused>> {
    if !looks_like_secret(secret) {
        return Ok(Err(Refused::Unknown));
    }
    let other = match mode {
        Mode::Test => Mode::Live,
        Mode::Live => Mode::Test,
    };
    if secret.starts_with(&format!("pb_{}_", other.as_str())) {
        return Ok(Err(Refused::WrongMode(other)));
    }
    let Some(key) = api_keys::Entity::find()
        .filter(api_keys::Column::SecretHash.eq(hash(secret)))
        .one(db)
        .await?
    else {
        return Ok(Err(Refused::Unknown));
    };
    if key.revoked_at.is_some() || key.mode != mode.as_str() {
        return Ok(Err(Refused::Unknown));
    }
    let stale = key
        .last_used_at
        .is_none_or(|at| now - at >= Duration::seconds(LAST_USED_RESOLUTION));
    if stale {
        api_keys::Entity::update_many()
            .col_expr(api_keys::Column::LastUsedAt, now.into())
            .filter(api_keys::Column::Id.eq(&key.id))
            .exec(db)
            .await?;
    }
    Ok(Ok(KeyOwner {
        key_id: key.id,
        merchant_id: key.merchant_id,
    }))
}

/// A page of the merchant's keys, newest first (revoked ones included).
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    page: &PageParams,
) -> Result<Page<api_keys::Model>> {
    let select = api_keys::Entity::find().filter(api_keys::Column::MerchantId.eq(merchant_id));
    Ok(page::fetch(db, select, api_keys::Column::Id, page).await?)
}

/// Revokes a key for good. Revoking a revoked key changes nothing.
pub async fn revoke(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
) -> Result<api_keys::Model> {
    let key = api_keys::Entity::find_by_id(id)
        .filter(api_keys::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("api_key", id))?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut row: api_keys::ActiveModel = key.into();
    row.revoked_at = Set(Some(now));
    Ok(row.update(db).await?)
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn looks_like_secret(s: &str) -> bool {
    let random = s
        .strip_prefix("pb_test_")
        .or_else(|| s.strip_prefix("pb_live_"));
    random.is_some_and(|r| r.len() == RANDOM_LEN && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_shape_is_checked_before_any_lookup() {
        assert!(looks_like_secret(&format!("pb_test_{}", "a".repeat(32))));
        assert!(looks_like_secret(&format!("pb_live_{}", "Z9".repeat(16))));
        assert!(!looks_like_secret(&format!("pb_test_{}", "a".repeat(31))));
        assert!(!looks_like_secret(&format!("pb_prod_{}", "a".repeat(32))));
        assert!(!looks_like_secret(&format!("pb_test_{}-", "a".repeat(31))));
        assert!(!looks_like_secret(""));
    }

    #[test]
    fn only_the_sandbox_is_test_mode() {
        assert_eq!(Mode::for_network(Network::Sandbox), Mode::Test);
        assert!(!Mode::for_network(Network::Sandbox).is_live());
        for network in [
            Network::Regtest,
            Network::Signet,
            Network::Testnet,
            Network::Mainnet,
        ] {
            assert_eq!(Mode::for_network(network), Mode::Live);
            assert!(Mode::for_network(network).is_live());
        }
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let key = CreatedKey {
            key: api_keys::Model {
                id: "key_x".into(),
                merchant_id: "mer_x".into(),
                name: "n".into(),
                mode: "test".into(),
                prefix: "pb_test_abcd".into(),
                secret_hash: "h".into(),
                created_at: Utc::now(),
                last_used_at: None,
                revoked_at: None,
            },
            secret: "pb_test_supersecret".into(),
        };
        assert!(!format!("{key:?}").contains("supersecret"));
    }
}
