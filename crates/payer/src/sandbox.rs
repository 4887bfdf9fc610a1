//! How a payer joins the chain of a running sandbox (`pushbill serve`
//! without `[bitcoind]`): the node role writes `<data>/sandbox/chain.json`
//! (the embedded simulator's RPC address and credentials, and the
//! merchant node's address and the sandbox's nostr relay; mode 0600,
//! rewritten at every start) and `pushbill payer run --sandbox <data>` (and
//! `nwc new --sandbox <data>`) reads it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The sandbox's chain, as a payer needs it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxChain {
    /// The simulator's JSON-RPC URL (loopback).
    pub url: String,
    pub user: String,
    pub password: String,
    /// `<node id>@<host:port>` of the deployment's node.
    pub merchant_node: Option<String>,
    /// The sandbox's nostr relay (`ws://...`), for wallet connections
    /// (`pushbill payer nwc new --sandbox`).
    #[serde(default)]
    pub nostr_relay: Option<String>,
}

impl std::fmt::Debug for SandboxChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxChain")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("merchant_node", &self.merchant_node)
            .field("nostr_relay", &self.nostr_relay)
            .finish_non_exhaustive()
    }
}

/// `<data>/sandbox/chain.json`.
pub fn path(data: &Path) -> PathBuf {
    data.join("sandbox").join("chain.json")
}

impl SandboxChain {
    /// Writes the file readable by its owner only.
    pub fn write(&self, data: &Path) -> anyhow::Result<()> {
        let path = path(data);
        let dir = path.parent().context("a folder")?;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(".chain.json.tmp");
        // Created afresh, so it gets the mode below.
        let _ = std::fs::remove_file(&tmp);
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(&tmp)
                .with_context(|| format!("writing {}", tmp.display()))?;
            file.write_all(&serde_json::to_vec_pretty(self)?)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    pub fn read(data: &Path) -> anyhow::Result<Self> {
        let path = path(data);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (is `pushbill serve` running in the sandbox from this folder's parent?)",
                path.display()
            )
        })?;
        serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_file_is_private_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let chain = SandboxChain {
            url: "http://127.0.0.1:1234".into(),
            user: "pushbill".into(),
            password: "secret-password".into(),
            merchant_node: Some("02aa@127.0.0.1:9735".into()),
            nostr_relay: Some("ws://127.0.0.1:7777".into()),
        };
        chain.write(dir.path()).unwrap();
        assert_eq!(SandboxChain::read(dir.path()).unwrap(), chain);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{chain:?}").contains("secret-password"));
        let missing = SandboxChain::read(&dir.path().join("nope")).unwrap_err();
        assert!(
            format!("{missing:#}").contains("pushbill serve"),
            "{missing:#}"
        );
    }
}
