//! Sealing wallet connection secrets at rest: ChaCha20-Poly1305 under the
//! deployment's key (`[nwc] key`, or the key file made on first start),
//! with the connection's id as associated data, so a sealed secret copied
//! onto another connection's row does not open.
//!
//! Sealed form: `v1:` then base64 of the 12-byte random nonce followed by
//! the ciphertext and its 16-byte tag.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};

use crate::config::NwcSettings;

const PREFIX: &str = "v1:";

/// The deployment's sealing key.
#[derive(Clone)]
pub struct SealKey(Key);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

/// Why a key could not be had, or a sealed secret not opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the NWC sealing key must be 64 hex digits ({0})")]
    BadKey(&'static str),
    #[error("reading or making the NWC key file {path}: {source}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("a sealed wallet secret does not open with this deployment's key")]
    DoesNotOpen,
}

impl SealKey {
    /// The key from `[nwc]`: `key` when set, else the key file, made
    /// (owner-only, never overwritten) when missing.
    pub fn load(settings: &NwcSettings) -> Result<SealKey, SealError> {
        match &settings.key {
            Some(key) => Self::from_hex(key.expose_secret(), "nwc.key"),
            None => Self::from_file(&settings.key_file),
        }
    }

    fn from_hex(hex_key: &str, source: &'static str) -> Result<SealKey, SealError> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| SealError::BadKey(source))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey(source))?;
        Ok(SealKey(Key::from(bytes)))
    }

    fn from_file(path: &Path) -> Result<SealKey, SealError> {
        let io = |source| SealError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::from_hex(&text, "nwc.key_file"),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            Err(_) => {}
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let key: [u8; 32] = rand::random();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(hex::encode(key).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok(SealKey(Key::from(key)))
            }
            // Another role of this process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(io)?;
                Self::from_hex(&text, "nwc.key_file")
            }
            Err(e) => Err(io(e)),
        }
    }

    /// `secret` sealed for the row `id`.
    pub fn seal(&self, id: &str, secret: &SecretString) -> String {
        let nonce: [u8; 12] = rand::random();
        let sealed = ChaCha20Poly1305::new(&self.0)
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: id.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 seals any message under 256 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(bytes))
    }

    /// The secret sealed for the row `id`.
    pub fn open(&self, id: &str, sealed: &str) -> Result<SecretString, SealError> {
        let bytes = sealed
            .strip_prefix(PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() >= 12 + 16)
            .ok_or(SealError::DoesNotOpen)?;
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SealError::DoesNotOpen)?;
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| SealError::DoesNotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SealKey {
        SealKey(Key::from([byte; 32]))
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_row() {
        let secret = SecretString::from("nostr+walletconnect://abc?secret=00ff");
        let sealed = key(1).seal("wc_1", &secret);
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("walletconnect") && !sealed.contains("00ff"));
        assert_eq!(
            key(1).open("wc_1", &sealed).unwrap().expose_secret(),
            secret.expose_secret()
        );
        assert!(matches!(
            key(2).open("wc_1", &sealed),
            Err(SealError::DoesNotOpen)
        ));
        assert!(matches!(
            key(1).open("wc_2", &sealed),
            Err(SealError::DoesNotOpen)
        ));
        // Two seals of one secret differ (fresh nonce).
        assert_ne!(sealed, key(1).seal("wc_1", &secret));
        // Any flipped byte fails the tag.
        let mut bytes = STANDARD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(bytes));
        assert!(key(1).open("wc_1", &tampered).is_err());
        for garbage in ["", "v1:", "v1:%%%", "v2:AAAA", "v1:AAAA"] {
            assert!(key(1).open("wc_1", garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn the_key_file_is_made_once_owner_only_and_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let settings = NwcSettings {
            key_file: dir.path().join("sub/nwc.key"),
            ..NwcSettings::default()
        };
        let first = SealKey::load(&settings).unwrap();
        let sealed = first.seal("wc_1", &SecretString::from("s"));
        let again = SealKey::load(&settings).unwrap();
        assert_eq!(again.open("wc_1", &sealed).unwrap().expose_secret(), "s");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&settings.key_file)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let configured = NwcSettings {
            key: Some(SecretString::from("11".repeat(32))),
            ..settings.clone()
        };
        assert!(
            SealKey::load(&configured)
                .unwrap()
                .open("wc_1", &sealed)
                .is_err()
        );
        for bad in ["", "zz", &"11".repeat(31), &"11".repeat(33)] {
            let bad = NwcSettings {
                key: Some(SecretString::from(bad.to_owned())),
                ..settings.clone()
            };
            assert!(matches!(SealKey::load(&bad), Err(SealError::BadKey(_))));
        }
    }
}
