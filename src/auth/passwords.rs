//! Dashboard passwords: hashed with argon2id (the `argon2` crate's default
//! parameters: 19 MiB, 2 passes), stored as a PHC string. Hashing is slow
//! on purpose, so it runs on tokio's blocking threads. Passwords are never
//! logged.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2};

use crate::error::{Error, Result};

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 200;

/// Refuses a password too short or too long to accept, naming `field`.
pub fn check(field: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at least {MIN_LEN} characters"),
        ));
    }
    if n > MAX_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_LEN} characters"),
        ));
    }
    Ok(())
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub async fn hash(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| Error::corrupt(format!("password hashing stopped: {e}")))?
}

fn hash_now(password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| Error::corrupt(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::corrupt(format!("password hashing: {e}")))
}

/// Whether `password` matches `stored` (a PHC string). `None` for `stored`
/// still spends the time of a check, against a dummy hash, so an unknown
/// account answers no faster than a wrong password.
pub async fn verify(password: &str, stored: Option<String>) -> bool {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY.to_owned());
        verify_now(&password, &stored) && known
    })
    .await
    .unwrap_or(false)
}

fn verify_now(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::error!("a stored password hash cannot be read");
        return false;
    };
    // Only argon2id hashes are accepted.
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// The argon2id hash of a random password nobody knows.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2w2hBSr2lDnM5wrEo7hjMO7oVKcHJRBW6lIzArRYv0o";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let a = hash("correct horse battery").await.unwrap();
        let b = hash("correct horse battery").await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "a fresh salt each time");
        assert!(!a.contains("correct horse"));
        assert!(verify("correct horse battery", Some(a.clone())).await);
        assert!(!verify("correct horse batterY", Some(a)).await);
        assert!(!verify("anything at all", None).await);
        assert!(!verify("x", Some("not a hash".into())).await);
    }

    #[test]
    fn the_dummy_hash_is_a_readable_argon2id_hash() {
        let parsed = PasswordHash::new(DUMMY).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::Argon2id.ident());
    }

    #[test]
    fn length_is_checked_naming_the_field() {
        assert!(
            matches!(check("password", "short"), Err(Error::Invalid { param, .. }) if param == "password")
        );
        assert!(check("password", &"x".repeat(MAX_LEN + 1)).is_err());
        assert!(check("password", "long enough pass").is_ok());
    }
}
