//! Transactions waiting for the next block, accepted with the checks that
//! matter for a Lightning node: inputs exist and are unspent, no double
//! spend, coinbase maturity, absolute and relative (BIP68) time locks,
//! outputs not above inputs, every input carries a signature.
//!
//! Scripts are not executed: a witness or script_sig must be present, but
//! the simulator does not verify it.

use std::collections::{HashMap, HashSet};

use bitcoin::{Amount, OutPoint, Sequence, Transaction, TxOut, Txid};

use super::chain::Chain;
use super::error::{RpcError, code};

/// Blocks a coinbase output must wait before it is spent.
pub const COINBASE_MATURITY: u32 = 100;

/// A transaction in the mempool and the fee it pays.
#[derive(Debug, Clone)]
pub struct Entry {
    pub tx: Transaction,
    pub txid: Txid,
    pub fee: Amount,
}

#[derive(Debug, Default)]
pub struct Mempool {
    entries: Vec<Entry>,
    /// Outpoint -> the mempool transaction spending it.
    spends: HashMap<OutPoint, Txid>,
}

/// Where an input's coin comes from.
struct Prevout {
    output: TxOut,
    /// None for an output of a mempool transaction.
    height: Option<u32>,
    is_coinbase: bool,
}

impl Mempool {
    /// Entries in acceptance order (parents before children).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, txid: &Txid) -> Option<&Entry> {
        self.entries.iter().find(|e| e.txid == *txid)
    }

    /// The mempool transaction spending `outpoint`, if any.
    pub fn spender(&self, outpoint: &OutPoint) -> Option<Txid> {
        self.spends.get(outpoint).copied()
    }

    /// An output created by a mempool transaction.
    pub fn output(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.get(&outpoint.txid)?
            .tx
            .output
            .get(outpoint.vout as usize)
    }

    pub fn total_fee(&self) -> Amount {
        self.entries.iter().map(|e| e.fee).sum()
    }

    /// Empties the mempool (its transactions go into a block).
    pub fn take_all(&mut self) -> Vec<Entry> {
        self.spends.clear();
        std::mem::take(&mut self.entries)
    }

    /// After the chain changed: `first` (transactions of disconnected
    /// blocks, oldest first) then the old entries are accepted again against
    /// the new tip; those no longer valid are dropped, as bitcoind does.
    pub fn reaccept(&mut self, chain: &Chain, first: Vec<Transaction>) {
        let old = self.take_all();
        for tx in first.into_iter().chain(old.into_iter().map(|e| e.tx)) {
            let _ = self.accept(chain, tx);
        }
    }

    /// Validates `tx` for the next block and adds it. An identical
    /// transaction already in the mempool is accepted again (its txid
    /// returned), like bitcoind's `sendrawtransaction`.
    pub fn accept(&mut self, chain: &Chain, tx: Transaction) -> Result<Txid, RpcError> {
        let txid = tx.compute_txid();
        check_transaction(&tx)?;
        if self.get(&txid).is_some() {
            return Ok(txid);
        }
        let next_height = chain.height() + 1;
        let mtp = chain.median_time_past(chain.height());
        if !is_final(&tx, next_height, mtp) {
            return Err(RpcError::rejected("non-final"));
        }
        if tx
            .input
            .iter()
            .any(|i| self.spends.contains_key(&i.previous_output))
        {
            return Err(RpcError::rejected("txn-mempool-conflict"));
        }
        if (0..tx.output.len()).any(|v| chain.coin(&OutPoint::new(txid, v as u32)).is_some()) {
            return Err(RpcError::new(
                code::TRANSACTION_ALREADY_IN_CHAIN,
                "Transaction already in block chain",
            ));
        }
        let mut prevouts = Vec::with_capacity(tx.input.len());
        for input in &tx.input {
            let prevout = self.prevout(chain, &input.previous_output).ok_or_else(|| {
                RpcError::new(code::TRANSACTION_ERROR, "bad-txns-inputs-missingorspent")
            })?;
            prevouts.push(prevout);
        }
        for prevout in &prevouts {
            if let (true, Some(height)) = (prevout.is_coinbase, prevout.height) {
                let depth = next_height - height;
                if depth < COINBASE_MATURITY {
                    return Err(RpcError::rejected(format!(
                        "bad-txns-premature-spend-of-coinbase, tried to spend coinbase at depth {depth}"
                    )));
                }
            }
        }
        if !sequence_locks_ok(chain, &tx, &prevouts, next_height) {
            return Err(RpcError::rejected("non-BIP68-final"));
        }
        let value_in: Amount = prevouts.iter().map(|p| p.output.value).sum();
        let value_out: Amount = tx.output.iter().map(|o| o.value).sum();
        let Some(fee) = value_in.checked_sub(value_out) else {
            return Err(RpcError::rejected(format!(
                "bad-txns-in-belowout, value in ({}) < value out ({})",
                value_in.to_btc(),
                value_out.to_btc()
            )));
        };
        for (input, prevout) in tx.input.iter().zip(&prevouts) {
            if input.witness.is_empty() && input.script_sig.is_empty() {
                let reason = if prevout.output.script_pubkey.is_witness_program() {
                    "Witness program was passed an empty witness"
                } else {
                    "Operation not valid with the current stack size"
                };
                return Err(RpcError::rejected(format!(
                    "mandatory-script-verify-flag-failed ({reason})"
                )));
            }
        }
        for input in &tx.input {
            self.spends.insert(input.previous_output, txid);
        }
        self.entries.push(Entry { tx, txid, fee });
        Ok(txid)
    }

    fn prevout(&self, chain: &Chain, outpoint: &OutPoint) -> Option<Prevout> {
        if let Some(coin) = chain.coin(outpoint) {
            return Some(Prevout {
                output: coin.output.clone(),
                height: Some(coin.height),
                is_coinbase: coin.is_coinbase,
            });
        }
        self.output(outpoint).map(|output| Prevout {
            output: output.clone(),
            height: None,
            is_coinbase: false,
        })
    }
}

/// Context-free checks (bitcoind's CheckTransaction).
fn check_transaction(tx: &Transaction) -> Result<(), RpcError> {
    if tx.input.is_empty() {
        return Err(RpcError::rejected("bad-txns-vin-empty"));
    }
    if tx.output.is_empty() {
        return Err(RpcError::rejected("bad-txns-vout-empty"));
    }
    let mut total = Amount::ZERO;
    for output in &tx.output {
        total = match total.checked_add(output.value) {
            Some(t) if t <= Amount::MAX_MONEY => t,
            _ => return Err(RpcError::rejected("bad-txns-txouttotal-toolarge")),
        };
    }
    let mut seen = HashSet::new();
    if !tx.input.iter().all(|i| seen.insert(i.previous_output)) {
        return Err(RpcError::rejected("bad-txns-inputs-duplicate"));
    }
    if tx.is_coinbase() {
        return Err(RpcError::rejected("coinbase"));
    }
    Ok(())
}

/// bitcoind's IsFinalTx for a block at `height` whose median time past is
/// `mtp`.
fn is_final(tx: &Transaction, height: u32, mtp: u32) -> bool {
    let lock = tx.lock_time.to_consensus_u32();
    if lock == 0 {
        return true;
    }
    let limit = if lock < 500_000_000 { height } else { mtp };
    lock < limit || tx.input.iter().all(|i| i.sequence == Sequence::MAX)
}

/// BIP68 relative lock times for inclusion in the block at `next_height`.
fn sequence_locks_ok(
    chain: &Chain,
    tx: &Transaction,
    prevouts: &[Prevout],
    next_height: u32,
) -> bool {
    if tx.version.0 < 2 {
        return true;
    }
    let tip_mtp = chain.median_time_past(chain.height());
    for (input, prevout) in tx.input.iter().zip(prevouts) {
        let sequence = input.sequence.to_consensus_u32();
        if sequence & (1 << 31) != 0 {
            continue;
        }
        let value = sequence & 0xffff;
        // An unconfirmed parent counts as confirmed in the next block.
        let coin_height = prevout.height.unwrap_or(next_height);
        if sequence & (1 << 22) != 0 {
            let base = chain.median_time_past(coin_height.saturating_sub(1));
            let min_time = i64::from(base) + (i64::from(value) << 9) - 1;
            if prevout.height.is_none() || min_time >= i64::from(tip_mtp) {
                return false;
            }
        } else {
            let min_height = i64::from(coin_height) + i64::from(value) - 1;
            if min_height >= i64::from(next_height) {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mining::BlockTemplate;
    use bitcoin::absolute::LockTime;
    use bitcoin::constants::genesis_block;
    use bitcoin::hashes::Hash;
    use bitcoin::transaction::Version;
    use bitcoin::{Network, ScriptBuf, TxIn, WPubkeyHash, Witness};

    fn script() -> ScriptBuf {
        ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([7; 20]))
    }

    /// A chain of `n` blocks after genesis, paying `script()`.
    fn chain(n: u32) -> Chain {
        let mut chain = Chain::new(genesis_block(Network::Regtest));
        for _ in 0..n {
            let block = BlockTemplate {
                prev: chain.tip().header,
                height: chain.height() + 1,
                min_time: 0,
                payout: script(),
                transactions: vec![],
                fees: Amount::ZERO,
            }
            .mine(&HashSet::new());
            chain.connect(block).unwrap();
        }
        chain
    }

    fn coinbase_of(chain: &Chain, height: u32) -> OutPoint {
        OutPoint::new(chain.block(height).unwrap().txdata[0].compute_txid(), 0)
    }

    fn spend(from: OutPoint, value: u64) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: from,
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[vec![1u8; 71], vec![2u8; 33]]),
                ..Default::default()
            }],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: script(),
            }],
        }
    }

    #[test]
    fn accepts_a_spend_of_a_mature_coinbase_once_and_refuses_a_double_spend() {
        let chain = chain(101);
        let mut pool = Mempool::default();
        let coin = coinbase_of(&chain, 1);
        let tx = spend(coin, 49_0000_0000);
        let txid = pool.accept(&chain, tx.clone()).unwrap();
        assert_eq!(pool.accept(&chain, tx).unwrap(), txid, "idempotent");
        assert_eq!(pool.entries().len(), 1);
        assert_eq!(pool.total_fee(), Amount::from_btc(1.0).unwrap());
        let err = pool.accept(&chain, spend(coin, 48_0000_0000)).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (-26, "txn-mempool-conflict")
        );
        // A child of the mempool transaction is fine.
        pool.accept(&chain, spend(OutPoint::new(txid, 0), 48_0000_0000))
            .unwrap();
    }

    #[test]
    fn an_immature_coinbase_is_refused() {
        let chain = chain(100);
        let err = Mempool::default()
            .accept(&chain, spend(coinbase_of(&chain, 2), 1000))
            .unwrap_err();
        assert_eq!(err.code, -26);
        assert!(
            err.message
                .starts_with("bad-txns-premature-spend-of-coinbase"),
            "{}",
            err.message
        );
        // Height 1 is exactly 100 deep for block 101.
        Mempool::default()
            .accept(&chain, spend(coinbase_of(&chain, 1), 1000))
            .unwrap();
    }

    #[test]
    fn missing_inputs_overspending_and_unsigned_inputs_are_refused() {
        let chain = chain(101);
        let mut pool = Mempool::default();
        let missing = spend(OutPoint::new(Txid::from_byte_array([9; 32]), 0), 1);
        let err = pool.accept(&chain, missing).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (-25, "bad-txns-inputs-missingorspent")
        );
        let err = pool
            .accept(&chain, spend(coinbase_of(&chain, 1), 50_0000_0001))
            .unwrap_err();
        assert!(
            err.message.starts_with("bad-txns-in-belowout"),
            "{}",
            err.message
        );
        let mut unsigned = spend(coinbase_of(&chain, 1), 1000);
        unsigned.input[0].witness = Witness::new();
        let err = pool.accept(&chain, unsigned).unwrap_err();
        assert!(
            err.message
                .starts_with("mandatory-script-verify-flag-failed"),
            "{}",
            err.message
        );
        assert!(pool.entries().is_empty());
    }

    #[test]
    fn time_locks_are_enforced() {
        let chain = chain(101);
        let mut pool = Mempool::default();
        let mut locked = spend(coinbase_of(&chain, 1), 1000);
        locked.lock_time = LockTime::from_height(103).unwrap();
        locked.input[0].sequence = Sequence::ENABLE_LOCKTIME_NO_RBF;
        assert_eq!(
            pool.accept(&chain, locked.clone()).unwrap_err().message,
            "non-final"
        );
        locked.lock_time = LockTime::from_height(101).unwrap();
        pool.accept(&chain, locked).unwrap();

        // Relative: 10 blocks after a coin confirmed at height 2 (next block 102 is too early).
        let mut relative = spend(coinbase_of(&chain, 2), 1000);
        relative.input[0].sequence = Sequence::from_height(101);
        assert_eq!(
            pool.accept(&chain, relative.clone()).unwrap_err().message,
            "non-BIP68-final"
        );
        relative.input[0].sequence = Sequence::from_height(100);
        pool.accept(&chain, relative).unwrap();
    }

    #[test]
    fn time_based_relative_locks_count_from_the_coins_median_time_past() {
        let chain = chain(101);
        let mut pool = Mempool::default();
        // One 512-second unit after block 2: the chain's times advance a
        // second per block, so the median time past is not there yet.
        let mut relative = spend(coinbase_of(&chain, 1), 1000);
        relative.input[0].sequence = Sequence::from_512_second_intervals(1);
        assert_eq!(
            pool.accept(&chain, relative).unwrap_err().message,
            "non-BIP68-final"
        );
        // Zero units is satisfied at once; an unconfirmed parent never is.
        let mut zero = spend(coinbase_of(&chain, 1), 1000);
        zero.input[0].sequence = Sequence::from_512_second_intervals(0);
        let parent = pool.accept(&chain, zero).unwrap();
        let mut child = spend(OutPoint::new(parent, 0), 900);
        child.input[0].sequence = Sequence::from_512_second_intervals(0);
        assert_eq!(
            pool.accept(&chain, child).unwrap_err().message,
            "non-BIP68-final"
        );
    }

    #[test]
    fn an_already_confirmed_transaction_is_reported_as_such() {
        let mut chain = chain(101);
        let tx = spend(coinbase_of(&chain, 1), 1000);
        let block = BlockTemplate {
            prev: chain.tip().header,
            height: 102,
            min_time: 0,
            payout: script(),
            transactions: vec![tx.clone()],
            fees: Amount::ZERO,
        }
        .mine(&HashSet::new());
        chain.connect(block).unwrap();
        let err = Mempool::default().accept(&chain, tx).unwrap_err();
        assert_eq!(err.code, -27);
    }
}
