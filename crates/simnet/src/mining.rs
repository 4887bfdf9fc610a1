//! Block templates and regtest proof of work: a BIP34 coinbase paying the
//! subsidy plus fees, the BIP141 witness commitment, the merkle root, regtest
//! difficulty bits and a nonce that meets the target.

use std::collections::HashSet;

use bitcoin::absolute::LockTime;
use bitcoin::block::{Header, Version as BlockVersion};
use bitcoin::blockdata::opcodes::all::OP_RETURN;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Block, BlockHash, CompactTarget, OutPoint, ScriptBuf, Sequence, Transaction, TxIn,
    TxMerkleNode, TxOut, Witness,
};

/// Regtest's proof-of-work limit, the difficulty of every regtest block.
pub const REGTEST_BITS: u32 = 0x207f_ffff;

/// Regtest halves the subsidy every 150 blocks (bitcoind's chainparams).
const HALVING_INTERVAL: u32 = 150;

/// The 4-byte prefix of a witness commitment output's push (BIP141).
const WITNESS_COMMITMENT_HEADER: [u8; 4] = [0xaa, 0x21, 0xa9, 0xed];

/// The block subsidy at `height` on regtest.
pub fn subsidy(height: u32) -> Amount {
    let halvings = height / HALVING_INTERVAL;
    if halvings >= 64 {
        return Amount::ZERO;
    }
    Amount::from_sat((50 * 100_000_000) >> halvings)
}

/// What the next block contains; `mine` turns it into a valid block.
#[derive(Debug, Clone)]
pub struct BlockTemplate {
    /// The tip the block builds on.
    pub prev: Header,
    pub height: u32,
    /// The earliest header time allowed (the caller passes
    /// max(previous time + 1, now)).
    pub min_time: u32,
    /// Where the coinbase pays.
    pub payout: ScriptBuf,
    /// Non-coinbase transactions, parents before children.
    pub transactions: Vec<Transaction>,
    /// Sum of the transactions' fees, claimed by the coinbase.
    pub fees: Amount,
}

impl BlockTemplate {
    /// Builds the block and grinds the nonce until the header meets its
    /// target. A hash in `avoid` (a block invalidated earlier) is skipped, so
    /// a re-mined block at the same height is a different block.
    pub fn mine(self, avoid: &HashSet<BlockHash>) -> Block {
        let mut txdata = Vec::with_capacity(self.transactions.len() + 1);
        txdata.push(coinbase(
            self.height,
            subsidy(self.height) + self.fees,
            self.payout,
        ));
        txdata.extend(self.transactions);
        let mut block = Block {
            header: Header {
                version: BlockVersion::from_consensus(0x2000_0000),
                prev_blockhash: self.prev.block_hash(),
                merkle_root: TxMerkleNode::all_zeros(),
                time: self.min_time.max(self.prev.time.saturating_add(1)),
                bits: CompactTarget::from_consensus(REGTEST_BITS),
                nonce: 0,
            },
            txdata,
        };
        add_witness_commitment(&mut block);
        block.header.merkle_root = block
            .compute_merkle_root()
            .expect("a block with a coinbase has a merkle root");
        grind(&mut block.header, avoid);
        block
    }
}

/// The coinbase: BIP34 height (then OP_0, as bitcoind's miner does, so the
/// script is at least 2 bytes), the 32-byte witness reserved value.
fn coinbase(height: u32, value: Amount, payout: ScriptBuf) -> Transaction {
    let script_sig = Builder::new()
        .push_int(i64::from(height))
        .push_opcode(bitcoin::opcodes::OP_0)
        .into_script();
    Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig,
            sequence: Sequence::MAX,
            witness: Witness::from_slice(&[[0u8; 32]]),
        }],
        output: vec![TxOut {
            value,
            script_pubkey: payout,
        }],
    }
}

/// Appends the BIP141 commitment output (OP_RETURN aa21a9ed + hash) to the
/// coinbase. The witness root ignores the coinbase, so it is final already.
fn add_witness_commitment(block: &mut Block) {
    let witness_root = block
        .witness_root()
        .expect("a block with a coinbase has a witness root");
    let reserved = [0u8; 32];
    let commitment = Block::compute_witness_commitment(&witness_root, &reserved);
    let mut push = PushBytesBuf::new();
    push.extend_from_slice(&WITNESS_COMMITMENT_HEADER)
        .expect("36 bytes fit a push");
    push.extend_from_slice(commitment.as_byte_array())
        .expect("36 bytes fit a push");
    let script_pubkey = Builder::new()
        .push_opcode(OP_RETURN)
        .push_slice(push)
        .into_script();
    block.txdata[0].output.push(TxOut {
        value: Amount::ZERO,
        script_pubkey,
    });
}

/// Finds a nonce (bumping the time when all nonces fail) whose hash meets
/// the header's own target and is not in `avoid`.
fn grind(header: &mut Header, avoid: &HashSet<BlockHash>) {
    let target = header.target();
    loop {
        for nonce in 0..=u32::MAX {
            header.nonce = nonce;
            if let Ok(hash) = header.validate_pow(target)
                && !avoid.contains(&hash)
            {
                return;
            }
        }
        header.time = header.time.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::constants::genesis_block;
    use bitcoin::{Network, WPubkeyHash};

    fn template(height: u32, transactions: Vec<Transaction>, fees: Amount) -> BlockTemplate {
        let genesis = genesis_block(Network::Regtest);
        BlockTemplate {
            prev: genesis.header,
            height,
            min_time: 1_700_000_000,
            payout: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([1; 20])),
            transactions,
            fees,
        }
    }

    fn segwit_spend() -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::new(bitcoin::Txid::from_byte_array([3; 32]), 1),
                witness: Witness::from_slice(&[vec![1u8; 72], vec![2u8; 33]]),
                ..Default::default()
            }],
            output: vec![TxOut {
                value: Amount::from_sat(5_000),
                script_pubkey: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([9; 20])),
            }],
        }
    }

    #[test]
    fn the_regtest_genesis_block_has_the_regtest_bits() {
        assert_eq!(
            genesis_block(Network::Regtest).header.bits.to_consensus(),
            REGTEST_BITS
        );
    }

    #[test]
    fn a_mined_block_has_valid_pow_merkle_root_and_witness_commitment() {
        let block =
            template(200, vec![segwit_spend()], Amount::from_sat(700)).mine(&HashSet::new());
        assert_eq!(block.header.bits.to_consensus(), REGTEST_BITS);
        let hash = block
            .header
            .validate_pow(block.header.target())
            .expect("meets its target");
        assert_eq!(hash, block.block_hash());
        assert!(block.check_merkle_root());
        assert!(block.check_witness_commitment());
        // The commitment must be there even though validation would accept
        // its absence for a block without witnesses: check its bytes.
        let last = block.txdata[0].output.last().unwrap();
        assert_eq!(
            &last.script_pubkey.as_bytes()[..6],
            &[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]
        );
        // A tampered witness breaks the commitment.
        let mut tampered = block.clone();
        tampered.txdata[1].input[0].witness = Witness::from_slice(&[vec![5u8; 71]]);
        assert!(!tampered.check_witness_commitment());
        assert!(tampered.check_merkle_root(), "txids ignore witnesses");
    }

    #[test]
    fn the_coinbase_carries_the_bip34_height_and_claims_subsidy_plus_fees() {
        let block = template(300, vec![], Amount::from_sat(1234)).mine(&HashSet::new());
        assert_eq!(block.bip34_block_height().unwrap(), 300);
        assert!(block.txdata[0].is_coinbase());
        assert_eq!(
            block.txdata[0].output[0].value,
            subsidy(300) + Amount::from_sat(1234)
        );
        assert_eq!(block.txdata[0].input[0].witness.len(), 1);
        assert_eq!(block.txdata[0].input[0].witness.nth(0).unwrap(), &[0u8; 32]);
        // Heights 1-16 are OP_1..OP_16, as bitcoind's `CScript() << nHeight`.
        let low = template(5, vec![], Amount::ZERO).mine(&HashSet::new());
        assert_eq!(low.txdata[0].input[0].script_sig.as_bytes(), &[0x55, 0x00]);
        let mid = template(0x80, vec![], Amount::ZERO).mine(&HashSet::new());
        assert_eq!(
            mid.txdata[0].input[0].script_sig.as_bytes(),
            &[0x02, 0x80, 0x00, 0x00]
        );
    }

    #[test]
    fn subsidy_halves_every_150_blocks() {
        assert_eq!(subsidy(1), Amount::from_btc(50.0).unwrap());
        assert_eq!(subsidy(149), Amount::from_btc(50.0).unwrap());
        assert_eq!(subsidy(150), Amount::from_btc(25.0).unwrap());
        assert_eq!(subsidy(150 * 64), Amount::ZERO);
    }

    #[test]
    fn time_never_goes_back_and_avoided_hashes_are_skipped() {
        let mut t = template(1, vec![], Amount::ZERO);
        t.min_time = 0;
        let block = t.clone().mine(&HashSet::new());
        assert_eq!(block.header.time, t.prev.time + 1);
        let again = t.clone().mine(&HashSet::from([block.block_hash()]));
        assert_ne!(again.block_hash(), block.block_hash());
        again.header.validate_pow(again.header.target()).unwrap();
    }
}
