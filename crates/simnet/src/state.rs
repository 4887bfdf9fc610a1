//! The simulator's state behind one lock: chain, mempool, wallet, block
//! file. Every change to the chain is written to the block file before the
//! call returns.

use std::collections::HashSet;
use std::path::Path;

use bitcoin::constants::genesis_block;
use bitcoin::{Amount, BlockHash, Network, OutPoint, ScriptBuf, Transaction, TxOut, Txid};

use super::chain::{Chain, Coin};
use super::error::{RpcError, SimnetError, code};
use super::mempool::{COINBASE_MATURITY, Mempool};
use super::mining::BlockTemplate;
use super::store::BlockFile;
use super::wallet::{SatPerKvb, Wallet};

/// Blocks mined on a fresh chain so the wallet has mature coins: 20 of 50
/// BTC (a coinbase is spendable after 100 more blocks), so that a sandbox
/// can fund many channels at once, one coin each, before a block confirms
/// their change.
pub const INITIAL_BLOCKS: u32 = 120;

/// The fee rate `estimatesmartfee` answers and `fundrawtransaction` uses by
/// default: 2 sat/vB (0.00002 BTC/kvB).
pub const DEFAULT_FEE_RATE: SatPerKvb = SatPerKvb(2_000);

#[derive(Debug)]
pub struct State {
    pub chain: Chain,
    pub mempool: Mempool,
    pub wallet: Wallet,
    pub fee_rate: SatPerKvb,
    /// Coins `fundrawtransaction` with `lockUnspents` chose: no other
    /// funding takes them (in memory only, as bitcoind's non-persistent
    /// locks), so transactions funded one after another before either is
    /// broadcast do not spend the same coin.
    pub locked: HashSet<OutPoint>,
    file: Option<BlockFile>,
    /// Blocks dropped by invalidateblock, kept so they are still served by
    /// hash after a restart.
    stale_file: Option<BlockFile>,
}

impl State {
    /// Loads the chain from `data_dir`'s block file, or starts at genesis
    /// and mines `INITIAL_BLOCKS` to the wallet.
    pub fn open(data_dir: Option<&Path>) -> Result<State, SimnetError> {
        let (wallet, dir) = match data_dir {
            Some(dir) => {
                let io = |source| SimnetError::Io {
                    path: dir.to_path_buf(),
                    source,
                };
                std::fs::create_dir_all(dir).map_err(io)?;
                (Wallet::load_or_create(dir).map_err(io)?, Some(dir))
            }
            None => (Wallet::regtest(), None),
        };
        let file = dir.map(|d| BlockFile::new(d, "blocks.dat"));
        let stale_file = dir.map(|d| BlockFile::new(d, "stale.dat"));
        let mut chain = Chain::new(genesis_block(Network::Regtest));
        let stored = match &file {
            Some(file) => file.load()?,
            None => Vec::new(),
        };
        let fresh = stored.is_empty();
        for (i, block) in stored.into_iter().enumerate() {
            chain.connect(block).map_err(|e| SimnetError::Corrupt {
                path: data_dir.map(|d| d.join("blocks.dat")).unwrap_or_default(),
                reason: format!("block {}: {e}", i + 1),
            })?;
        }
        if let Some(stale_file) = &stale_file {
            for block in stale_file.load()? {
                chain.add_stale(block);
            }
        }
        let mut state = State {
            chain,
            mempool: Mempool::default(),
            wallet,
            fee_rate: DEFAULT_FEE_RATE,
            locked: HashSet::new(),
            file,
            stale_file,
        };
        if fresh {
            let payout = state.wallet.script_pubkey();
            state.mine(INITIAL_BLOCKS, payout)?;
        }
        Ok(state)
    }

    /// Mines `n` blocks paying `payout`; the first includes the mempool.
    pub fn mine(&mut self, n: u32, payout: ScriptBuf) -> Result<Vec<BlockHash>, SimnetError> {
        let now = unix_now();
        let mut mined = Vec::new();
        let mut included = Vec::new();
        for i in 0..n {
            let entries = if i == 0 {
                self.mempool.take_all()
            } else {
                Vec::new()
            };
            let fees = entries.iter().map(|e| e.fee).sum::<Amount>();
            let transactions: Vec<Transaction> = entries.into_iter().map(|e| e.tx).collect();
            included.extend(transactions.iter().cloned());
            let tip = self.chain.tip().header;
            let block = BlockTemplate {
                prev: tip,
                height: self.chain.height() + 1,
                min_time: now.max(tip.time.saturating_add(1)),
                payout: payout.clone(),
                transactions,
                fees,
            }
            .mine(&self.chain.stale_hashes());
            if let Err(e) = self.chain.connect(block.clone()) {
                self.undo_mined(mined.len(), included);
                return Err(RpcError::new(code::MISC_ERROR, e.to_string()).into());
            }
            mined.push(block);
        }
        if let Some(file) = &self.file
            && let Err(e) = file.append(&mined)
        {
            self.undo_mined(mined.len(), included);
            return Err(e);
        }
        Ok(mined.iter().map(|b| b.block_hash()).collect())
    }

    fn undo_mined(&mut self, count: usize, included: Vec<Transaction>) {
        for _ in 0..count {
            self.chain.disconnect_tip();
        }
        self.mempool.reaccept(&self.chain, included);
    }

    /// bitcoind's invalidateblock: drops `hash` and every block above it;
    /// their transactions go back to the mempool where still valid.
    pub fn invalidate(&mut self, hash: &BlockHash) -> Result<(), SimnetError> {
        if self.chain.is_stale(hash) {
            return Ok(());
        }
        let height = self
            .chain
            .height_of(hash)
            .ok_or_else(RpcError::block_not_found)?;
        if height == 0 {
            return Err(
                RpcError::new(code::MISC_ERROR, "cannot invalidate the genesis block").into(),
            );
        }
        let old_mempool: Vec<Transaction> = self
            .mempool
            .entries()
            .iter()
            .map(|e| e.tx.clone())
            .collect();
        let mut dropped = Vec::new();
        while self.chain.height() >= height {
            match self.chain.disconnect_tip() {
                Some(block) => dropped.push(block),
                None => break,
            }
        }
        dropped.reverse();
        let back: Vec<Transaction> = dropped
            .iter()
            .flat_map(|b| b.txdata.iter().skip(1).cloned())
            .collect();
        self.mempool.reaccept(&self.chain, back);
        if let Some(file) = &self.file
            && let Err(e) = file.rewrite(self.chain.blocks_after_genesis())
        {
            // Put the chain back as it was on disk.
            self.mempool.take_all();
            for block in dropped {
                let _ = self.chain.connect(block);
            }
            self.mempool.reaccept(&self.chain, old_mempool);
            return Err(e);
        }
        if let Some(stale_file) = &self.stale_file {
            // Losing this only means the dropped blocks are not served by
            // hash after a restart: the chain itself is safe on disk.
            if let Err(e) = stale_file.append(&dropped) {
                tracing::warn!(error = %e, "simnet could not record stale blocks");
            }
        }
        Ok(())
    }

    /// Validates `tx` and adds it to the mempool.
    pub fn send(&mut self, tx: Transaction) -> Result<Txid, RpcError> {
        let spent: Vec<OutPoint> = tx.input.iter().map(|i| i.previous_output).collect();
        let txid = self.mempool.accept(&self.chain, tx)?;
        for outpoint in spent {
            self.locked.remove(&outpoint);
        }
        Ok(txid)
    }

    /// Confirmations of a coin at `height`.
    pub fn confirmations(&self, height: u32) -> u32 {
        self.chain.height() + 1 - height
    }

    /// The wallet's confirmed coins that can be spent in the next block:
    /// mature, not spent by a mempool transaction, not locked. Like bitcoind's
    /// wallet, a coinbase needs 101 confirmations (one more than consensus).
    pub fn spendable_coins(&self) -> Vec<(OutPoint, Coin)> {
        let script = self.wallet.script_pubkey();
        let mut coins: Vec<(OutPoint, Coin)> = self
            .chain
            .utxos()
            .filter(|(outpoint, coin)| {
                coin.output.script_pubkey == script
                    && (!coin.is_coinbase || self.confirmations(coin.height) > COINBASE_MATURITY)
                    && self.mempool.spender(outpoint).is_none()
                    && !self.locked.contains(outpoint)
            })
            .map(|(o, c)| (*o, c.clone()))
            .collect();
        coins.sort_by_key(|(o, c)| (c.height, *o));
        coins
    }

    /// The output an outpoint refers to, confirmed or in the mempool.
    pub fn prevout(&self, outpoint: &OutPoint) -> Option<TxOut> {
        self.chain
            .coin(outpoint)
            .map(|c| c.output.clone())
            .or_else(|| self.mempool.output(outpoint).cloned())
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(0)
}
