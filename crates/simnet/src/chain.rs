//! The active chain: blocks by height, cumulative work, the UTXO set (with
//! undo data so the tip can be disconnected) and a transaction index.

use std::collections::HashMap;

use bitcoin::pow::Work;
use bitcoin::{Block, BlockHash, OutPoint, Transaction, TxOut, Txid};

/// An unspent output and where it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coin {
    pub output: TxOut,
    pub height: u32,
    pub is_coinbase: bool,
}

/// A block that does not extend the tip.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("block {block} does not build on the tip {tip}")]
    NotOnTip { block: BlockHash, tip: BlockHash },
    #[error("block {block} spends {outpoint}, which is not in the UTXO set")]
    MissingInput {
        block: BlockHash,
        outpoint: OutPoint,
    },
}

/// A block found by hash: on the active chain or a stale one (dropped by
/// invalidateblock, still served by hash as bitcoind does).
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub block: &'a Block,
    pub height: u32,
    pub chainwork: Work,
    pub active: bool,
}

/// Blocks from genesis (height 0) to the tip, and stale blocks.
#[derive(Debug)]
pub struct Chain {
    stale: HashMap<BlockHash, (Block, u32, Work)>,
    blocks: Vec<Block>,
    hashes: Vec<BlockHash>,
    heights: HashMap<BlockHash, u32>,
    chainwork: Vec<Work>,
    utxos: HashMap<OutPoint, Coin>,
    /// Per height, the coins its block spent (to restore them on disconnect).
    undo: Vec<Vec<(OutPoint, Coin)>>,
    /// Txid -> (height, position in the block). Genesis is not indexed (its
    /// coinbase is unspendable, as in bitcoind).
    txs: HashMap<Txid, (u32, usize)>,
}

impl Chain {
    pub fn new(genesis: Block) -> Chain {
        let hash = genesis.block_hash();
        let work = genesis.header.work();
        Chain {
            blocks: vec![genesis],
            hashes: vec![hash],
            heights: HashMap::from([(hash, 0)]),
            chainwork: vec![work],
            utxos: HashMap::new(),
            undo: vec![Vec::new()],
            txs: HashMap::new(),
            stale: HashMap::new(),
        }
    }

    /// A block by hash, active or stale.
    pub fn lookup(&self, hash: &BlockHash) -> Option<Located<'_>> {
        if let Some(height) = self.height_of(hash) {
            return Some(Located {
                block: &self.blocks[height as usize],
                height,
                chainwork: self.chainwork[height as usize],
                active: true,
            });
        }
        self.stale
            .get(hash)
            .map(|(block, height, chainwork)| Located {
                block,
                height: *height,
                chainwork: *chainwork,
                active: false,
            })
    }

    /// Hashes of stale blocks (never mined again).
    pub fn is_stale(&self, hash: &BlockHash) -> bool {
        self.stale.contains_key(hash)
    }

    pub fn stale_hashes(&self) -> std::collections::HashSet<BlockHash> {
        self.stale.keys().copied().collect()
    }

    /// Records a stale block whose parent is known (active or stale);
    /// returns whether it was recorded.
    pub fn add_stale(&mut self, block: Block) -> bool {
        let hash = block.block_hash();
        if self.heights.contains_key(&hash) {
            return false;
        }
        let Some(parent) = self.lookup(&block.header.prev_blockhash) else {
            return false;
        };
        let (height, work) = (parent.height + 1, parent.chainwork + block.header.work());
        self.stale.insert(hash, (block, height, work));
        true
    }

    pub fn height(&self) -> u32 {
        (self.blocks.len() - 1) as u32
    }

    pub fn tip(&self) -> &Block {
        &self.blocks[self.blocks.len() - 1]
    }

    pub fn tip_hash(&self) -> BlockHash {
        self.hashes[self.hashes.len() - 1]
    }

    pub fn block(&self, height: u32) -> Option<&Block> {
        self.blocks.get(height as usize)
    }

    pub fn hash_at(&self, height: u32) -> Option<BlockHash> {
        self.hashes.get(height as usize).copied()
    }

    pub fn height_of(&self, hash: &BlockHash) -> Option<u32> {
        self.heights.get(hash).copied()
    }

    /// Blocks after genesis, in order (what the block file stores).
    pub fn blocks_after_genesis(&self) -> &[Block] {
        &self.blocks[1..]
    }

    /// Cumulative work up to and including `height`.
    pub fn chainwork(&self, height: u32) -> Option<Work> {
        self.chainwork.get(height as usize).copied()
    }

    pub fn coin(&self, outpoint: &OutPoint) -> Option<&Coin> {
        self.utxos.get(outpoint)
    }

    pub fn utxos(&self) -> impl Iterator<Item = (&OutPoint, &Coin)> {
        self.utxos.iter()
    }

    /// A confirmed transaction and the height of its block.
    pub fn transaction(&self, txid: &Txid) -> Option<(u32, &Transaction)> {
        let (height, index) = *self.txs.get(txid)?;
        Some((height, &self.blocks[height as usize].txdata[index]))
    }

    /// Median of the last 11 block times ending at `height` (BIP113).
    pub fn median_time_past(&self, height: u32) -> u32 {
        let end = (height as usize).min(self.blocks.len() - 1);
        let start = end.saturating_sub(10);
        let mut times: Vec<u32> = self.blocks[start..=end]
            .iter()
            .map(|b| b.header.time)
            .collect();
        times.sort_unstable();
        times[times.len() / 2]
    }

    /// Appends a block on the tip and applies it to the UTXO set. Nothing
    /// changes when it fails.
    pub fn connect(&mut self, block: Block) -> Result<(), ConnectError> {
        let hash = block.block_hash();
        if block.header.prev_blockhash != self.tip_hash() {
            return Err(ConnectError::NotOnTip {
                block: hash,
                tip: self.tip_hash(),
            });
        }
        // Check every spend first (in block order: a transaction may spend
        // an earlier one in the same block) so a failure changes nothing.
        let mut created: HashMap<OutPoint, ()> = HashMap::new();
        for tx in block.txdata.iter().skip(1) {
            for input in &tx.input {
                let known = self.utxos.contains_key(&input.previous_output)
                    || created.remove(&input.previous_output).is_some();
                if !known {
                    return Err(ConnectError::MissingInput {
                        block: hash,
                        outpoint: input.previous_output,
                    });
                }
            }
            let txid = tx.compute_txid();
            for vout in 0..tx.output.len() {
                created.insert(OutPoint::new(txid, vout as u32), ());
            }
        }
        let height = self.height() + 1;
        self.stale.remove(&hash);
        let mut spent = Vec::new();
        for (index, tx) in block.txdata.iter().enumerate() {
            let txid = tx.compute_txid();
            let is_coinbase = index == 0;
            if !is_coinbase {
                for input in &tx.input {
                    if let Some(coin) = self.utxos.remove(&input.previous_output) {
                        spent.push((input.previous_output, coin));
                    }
                }
            }
            for (vout, output) in tx.output.iter().enumerate() {
                if output.script_pubkey.is_op_return() {
                    continue;
                }
                self.utxos.insert(
                    OutPoint::new(txid, vout as u32),
                    Coin {
                        output: output.clone(),
                        height,
                        is_coinbase,
                    },
                );
            }
            self.txs.insert(txid, (height, index));
        }
        let work = self.chainwork[self.chainwork.len() - 1] + block.header.work();
        self.chainwork.push(work);
        self.undo.push(spent);
        self.heights.insert(hash, height);
        self.hashes.push(hash);
        self.blocks.push(block);
        Ok(())
    }

    /// Removes the tip block (never genesis), restores the coins it spent
    /// and keeps the block as stale.
    pub fn disconnect_tip(&mut self) -> Option<Block> {
        if self.blocks.len() == 1 {
            return None;
        }
        let block = self.blocks.pop()?;
        let hash = self.hashes.pop()?;
        self.heights.remove(&hash);
        let work = self.chainwork.pop()?;
        let height = self.blocks.len() as u32;
        let spent = self.undo.pop().unwrap_or_default();
        for tx in block.txdata.iter().rev() {
            let txid = tx.compute_txid();
            for vout in 0..tx.output.len() {
                self.utxos.remove(&OutPoint::new(txid, vout as u32));
            }
            self.txs.remove(&txid);
        }
        for (outpoint, coin) in spent {
            self.utxos.insert(outpoint, coin);
        }
        self.stale.insert(hash, (block.clone(), height, work));
        Some(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mining::{BlockTemplate, REGTEST_BITS};
    use bitcoin::constants::genesis_block;
    use bitcoin::hashes::Hash;
    use bitcoin::{Amount, Network, ScriptBuf};

    fn payout() -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([7; 20]))
    }

    fn mine_on(chain: &Chain, txs: Vec<Transaction>, fees: Amount) -> Block {
        BlockTemplate {
            prev: chain.tip().header,
            height: chain.height() + 1,
            min_time: chain.tip().header.time + 1,
            payout: payout(),
            transactions: txs,
            fees,
        }
        .mine(&Default::default())
    }

    #[test]
    fn connect_and_disconnect_restore_the_utxo_set() {
        let mut chain = Chain::new(genesis_block(Network::Regtest));
        assert_eq!(chain.tip().header.bits.to_consensus(), REGTEST_BITS);
        let first = mine_on(&chain, vec![], Amount::ZERO);
        let coinbase_txid = first.txdata[0].compute_txid();
        chain.connect(first).unwrap();
        let coin = OutPoint::new(coinbase_txid, 0);
        assert!(chain.coin(&coin).unwrap().is_coinbase);
        assert_eq!(chain.coin(&coin).unwrap().height, 1);

        let spend = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![bitcoin::TxIn {
                previous_output: coin,
                ..Default::default()
            }],
            output: vec![TxOut {
                value: Amount::from_sat(1000),
                script_pubkey: payout(),
            }],
        };
        let spend_txid = spend.compute_txid();
        let second = mine_on(&chain, vec![spend], Amount::ZERO);
        chain.connect(second).unwrap();
        assert_eq!(chain.height(), 2);
        assert!(chain.coin(&coin).is_none(), "spent");
        assert_eq!(chain.transaction(&spend_txid).unwrap().0, 2);
        assert_eq!(
            chain.chainwork(2).unwrap(),
            chain.chainwork(1).unwrap() + chain.tip().header.work()
        );

        let dropped = chain.disconnect_tip().unwrap();
        let stale = chain.lookup(&dropped.block_hash()).unwrap();
        assert!(!stale.active);
        assert_eq!(stale.height, 2);
        assert_eq!(chain.height(), 1);
        assert!(chain.coin(&coin).is_some(), "restored");
        assert!(chain.transaction(&spend_txid).is_none());
        assert!(chain.coin(&OutPoint::new(spend_txid, 0)).is_none());
    }

    #[test]
    fn a_block_spending_a_missing_coin_changes_nothing() {
        let mut chain = Chain::new(genesis_block(Network::Regtest));
        let bad = Transaction {
            version: bitcoin::transaction::Version::TWO,
            lock_time: bitcoin::absolute::LockTime::ZERO,
            input: vec![bitcoin::TxIn::default()],
            output: vec![],
        };
        let block = mine_on(&chain, vec![bad], Amount::ZERO);
        assert!(matches!(
            chain.connect(block),
            Err(ConnectError::MissingInput { .. })
        ));
        assert_eq!(chain.height(), 0);
        assert_eq!(chain.utxos().count(), 0);
    }

    #[test]
    fn a_block_not_on_the_tip_is_refused_and_genesis_stays() {
        let mut chain = Chain::new(genesis_block(Network::Regtest));
        let block = mine_on(&chain, vec![], Amount::ZERO);
        chain.connect(block.clone()).unwrap();
        assert!(matches!(
            chain.connect(block),
            Err(ConnectError::NotOnTip { .. })
        ));
        chain.disconnect_tip().unwrap();
        assert!(chain.disconnect_tip().is_none());
        assert_eq!(chain.height(), 0);
    }
}
