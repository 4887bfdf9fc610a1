//! The node's 32-byte seed: every key of the node derives from it. Created on
//! first start with 0600 permissions; never logged, never printed.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, bail};

pub const SEED_FILE: &str = "seed";

/// Reads `<dir>/seed`, or creates it (32 random bytes, mode 0600) when absent.
pub fn load_or_create(dir: &Path) -> anyhow::Result<[u8; 32]> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(SEED_FILE);
    match std::fs::File::open(&path) {
        Ok(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .with_context(|| format!("reading {}", path.display()))?;
            let Ok(seed) = <[u8; 32]>::try_from(bytes.as_slice()) else {
                bail!(
                    "{} holds {} bytes, expected 32: refusing to start with a damaged seed",
                    path.display(),
                    bytes.len()
                );
            };
            Ok(seed)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path),
        Err(e) => Err(e).with_context(|| format!("opening {}", path.display())),
    }
}

fn create(path: &Path) -> anyhow::Result<[u8; 32]> {
    let seed: [u8; 32] = rand::random();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&seed)?;
    file.sync_all()?;
    if let Some(parent) = path.parent() {
        std::fs::File::open(parent)?.sync_all()?;
    }
    tracing::info!(path = %path.display(), "created a new node seed; back it up");
    Ok(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_is_created_once_private_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SEED_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_damaged_seed_stops_the_node() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SEED_FILE), [1u8; 31]).unwrap();
        let err = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("31 bytes"), "{err}");
    }
}
