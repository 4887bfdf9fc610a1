//! The regtest chain simulator ("simnet"): a bitcoind stand-in serving the
//! JSON-RPC subset an LDK node uses (lightning-block-sync's RpcClient, fee
//! estimates, broadcast, wallet funding), mining real regtest blocks.
//!
//! ```text
//! Simnet::start(cfg) ── rpc.rs (HTTP, auth, envelopes) ── methods.rs (bitcoind methods)
//!        │                                                    │
//!        └──────────── state.rs (one lock) ───────────────────┘
//!   chain.rs  mempool.rs  mining.rs  store.rs  wallet.rs (+ wallet_rpc.rs: its methods)
//! ```
//! Run it alone with the `simnet` binary (or `pushbill simnet`).
//! See docs/lightning.md, "Chain simulator (simnet)".

mod chain;
pub mod cli;
mod error;
mod json;
mod mempool;
mod methods;
mod mining;
mod params;
mod rpc;
mod state;
mod store;
mod wallet;
mod wallet_rpc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bitcoin::{Address, BlockHash, Transaction};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use state::State;

pub use error::{RpcError, SimnetError};
pub use mining::REGTEST_BITS;
pub use state::INITIAL_BLOCKS;

/// How to run a simnet.
#[derive(Debug, Clone)]
pub struct SimnetConfig {
    /// Where the JSON-RPC server listens; port 0 picks a free port.
    pub listen: SocketAddr,
    pub rpc_user: String,
    pub rpc_password: SecretString,
    /// Mine a block this often in the background; on demand only if None.
    pub block_interval: Option<Duration>,
    /// Keep the chain (and the wallet seed) here across restarts; in memory
    /// if None.
    pub data_dir: Option<PathBuf>,
}

/// A running simulator. Cheap to clone; every clone is the same chain.
#[derive(Clone)]
pub struct Simnet {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<Mutex<State>>,
    address: SocketAddr,
    server: actix_web::dev::ServerHandle,
    stop: CancellationToken,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    server_task: Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    /// The data dir's lock, released by `shutdown`.
    dir_lock: Mutex<Option<std::fs::File>>,
}

impl Simnet {
    /// Loads the chain from `data_dir` (or starts one: genesis plus
    /// `INITIAL_BLOCKS` paying the wallet, so it has mature coins), binds
    /// the RPC server and starts the block timer if configured.
    pub async fn start(cfg: SimnetConfig) -> Result<Simnet, SimnetError> {
        let dir_lock = match &cfg.data_dir {
            Some(dir) => Some(store::lock_dir(dir)?),
            None => None,
        };
        let data_dir = cfg.data_dir.clone();
        let state = tokio::task::spawn_blocking(move || State::open(data_dir.as_deref()))
            .await
            .map_err(|e| {
                SimnetError::Rpc(RpcError::new(error::code::MISC_ERROR, e.to_string()))
            })??;
        let state = Arc::new(Mutex::new(state));
        let server = rpc::start(cfg.listen, state.clone(), &cfg.rpc_user, &cfg.rpc_password)?;
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        if let Some(interval) = cfg.block_interval.filter(|i| !i.is_zero()) {
            tasks.push(tokio::spawn(mine_every(
                interval,
                state.clone(),
                stop.clone(),
            )));
        }
        tracing::info!(address = %server.address, "simnet RPC listening");
        Ok(Simnet {
            inner: Arc::new(Inner {
                state,
                address: server.address,
                server: server.handle,
                stop,
                tasks: Mutex::new(tasks),
                server_task: Mutex::new(Some(server.task)),
                dir_lock: Mutex::new(dir_lock),
            }),
        })
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.inner.address)
    }

    pub fn rpc_address(&self) -> SocketAddr {
        self.inner.address
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the chain half
        // changed (every change is checked before it is applied), so a
        // poisoned lock is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Mines `n` blocks to the wallet; the first includes the mempool.
    pub fn mine_blocks(&self, n: u32) -> Result<Vec<BlockHash>, SimnetError> {
        let mut state = self.state();
        let payout = state.wallet.script_pubkey();
        state.mine(n, payout)
    }

    /// Mines `n` blocks paying `address`.
    pub fn mine_blocks_to(&self, n: u32, address: &Address) -> Result<Vec<BlockHash>, SimnetError> {
        self.state().mine(n, address.script_pubkey())
    }

    /// Drops the tip (a one-block reorg once new blocks are mined); its
    /// transactions go back to the mempool. Returns the dropped block.
    pub fn invalidate_tip(&self) -> Result<BlockHash, SimnetError> {
        let mut state = self.state();
        let tip = state.chain.tip_hash();
        state.invalidate(&tip)?;
        Ok(tip)
    }

    pub fn height(&self) -> u32 {
        self.state().chain.height()
    }

    pub fn tip(&self) -> BlockHash {
        self.state().chain.tip_hash()
    }

    pub fn mempool(&self) -> Vec<Transaction> {
        self.state()
            .mempool
            .entries()
            .iter()
            .map(|e| e.tx.clone())
            .collect()
    }

    /// The wallet's (only) address.
    pub fn wallet_address(&self) -> Address {
        self.state().wallet.address().clone()
    }

    /// Stops the block timer and the RPC server (in-flight calls finish).
    pub async fn shutdown(self) {
        self.inner.stop.cancel();
        self.inner.server.stop(true).await;
        let tasks: Vec<_> =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        let server = self
            .inner
            .server_task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(server) = server {
            let _ = server.await;
        }
        // Nothing writes the chain any more: another simnet may take the folder.
        drop(
            self.inner
                .dir_lock
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }
}

async fn mine_every(interval: Duration, state: Arc<Mutex<State>>, stop: CancellationToken) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let state = state.clone();
        let mined = tokio::task::spawn_blocking(move || {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            let payout = state.wallet.script_pubkey();
            state.mine(1, payout)
        })
        .await;
        match mined {
            Ok(Ok(hashes)) => tracing::debug!(block = ?hashes.first(), "simnet mined a block"),
            Ok(Err(e)) => tracing::error!(error = %e, "simnet could not mine a block"),
            Err(e) => tracing::error!(error = %e, "simnet mining task failed"),
        }
    }
}

/// Parses a block interval for the command line: `10s`, `500ms`, `2m` or
/// plain seconds (`10`).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 10s, 500ms, 2m or 10"))?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use ms, s or m)")),
    };
    if duration.is_zero() {
        return Err("the block interval must be more than zero".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_intervals_parse_with_or_without_a_unit() {
        assert_eq!(parse_interval("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_interval("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("ten").is_err());
        assert!(parse_interval("5h").unwrap_err().contains("unit"));
    }
}
