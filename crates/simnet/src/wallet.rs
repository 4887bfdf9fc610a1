//! The simulator's wallet: one P2WPKH key from a 32-byte seed, BIP143
//! signing, and coin selection for `fundrawtransaction`.

use std::io::Write;
use std::path::Path;

use bitcoin::hashes::{Hash, sha256};
use bitcoin::key::CompressedPublicKey;
use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{
    Address, Amount, KnownHrp, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut,
    Witness,
};

/// The seed of the in-memory simnet's wallet (no data_dir): fixed, so a
/// regtest address is stable across runs. Regtest coins only.
const REGTEST_SEED: [u8; 32] = *b"pushbill simnet regtest wallet!!";

/// Outputs below this are dust for P2WPKH at bitcoind's 3 sat/vB dust relay
/// fee; change smaller than this goes to the fee.
pub const DUST_P2WPKH: Amount = Amount::from_sat(294);

/// bitcoind's default minimum relay fee, 1 sat/vB, in sat per 1000 vbytes.
pub const MIN_RELAY_SAT_PER_KVB: u64 = 1_000;

/// The wallet's one key.
pub struct Wallet {
    secret: SecretKey,
    public: CompressedPublicKey,
    address: Address,
}

impl std::fmt::Debug for Wallet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Wallet")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Why signing an input failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("input {0} does not exist")]
    NoSuchInput(usize),
    #[error("input {0} does not pay to the wallet's key")]
    NotOurs(usize),
}

impl Wallet {
    /// The key is SHA256(seed), so the seed file never is the key itself.
    pub fn from_seed(seed: &[u8; 32]) -> Wallet {
        let digest = sha256::Hash::hash(seed);
        let secret = SecretKey::from_slice(digest.as_byte_array())
            .expect("a SHA-256 digest is a valid secp256k1 key with overwhelming probability");
        let secp = Secp256k1::signing_only();
        let public = CompressedPublicKey(secret.public_key(&secp));
        let address = Address::p2wpkh(&public, KnownHrp::Regtest);
        Wallet {
            secret,
            public,
            address,
        }
    }

    /// The fixed-seed wallet of an in-memory simnet.
    pub fn regtest() -> Wallet {
        Wallet::from_seed(&REGTEST_SEED)
    }

    /// Reads `dir/wallet_seed`, creating it (32 random bytes, mode 0600,
    /// written then renamed) when missing.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Wallet> {
        let path = dir.join("wallet_seed");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{} must hold exactly 32 bytes", path.display()),
                    )
                })?;
                Ok(Wallet::from_seed(&seed))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let seed: [u8; 32] = rand::random();
                let tmp = dir.join("wallet_seed.tmp");
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&tmp)?;
                file.write_all(&seed)?;
                file.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                std::fs::File::open(dir)?.sync_all()?;
                Ok(Wallet::from_seed(&seed))
            }
            Err(e) => Err(e),
        }
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    pub fn script_pubkey(&self) -> ScriptBuf {
        self.address.script_pubkey()
    }

    pub fn public_key(&self) -> CompressedPublicKey {
        self.public
    }

    /// Signs input `index`, which spends `value` paid to the wallet's key:
    /// an ECDSA signature over the BIP143 sighash (SIGHASH_ALL), witness
    /// `<sig> <pubkey>`.
    pub fn sign_input(
        &self,
        tx: &mut Transaction,
        index: usize,
        spent: &TxOut,
    ) -> Result<(), SignError> {
        if index >= tx.input.len() {
            return Err(SignError::NoSuchInput(index));
        }
        if spent.script_pubkey != self.script_pubkey() {
            return Err(SignError::NotOurs(index));
        }
        let sighash = SighashCache::new(&*tx)
            .p2wpkh_signature_hash(
                index,
                &spent.script_pubkey,
                spent.value,
                EcdsaSighashType::All,
            )
            .map_err(|_| SignError::NotOurs(index))?;
        let secp = Secp256k1::signing_only();
        let message = Message::from_digest(sighash.to_byte_array());
        let signature =
            bitcoin::ecdsa::Signature::sighash_all(secp.sign_ecdsa(&message, &self.secret));
        tx.input[index].witness = Witness::p2wpkh(&signature, &self.public.0);
        tx.input[index].script_sig = ScriptBuf::new();
        Ok(())
    }
}

/// A fee rate in satoshis per 1000 virtual bytes (bitcoind's unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SatPerKvb(pub u64);

impl SatPerKvb {
    /// The fee for `vsize` virtual bytes, rounded up like bitcoind.
    pub fn fee(self, vsize: u64) -> Amount {
        Amount::from_sat(self.0.saturating_mul(vsize).div_ceil(1000))
    }
}

/// What `fund` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Funded {
    pub tx: Transaction,
    pub fee: Amount,
    /// Index of the change output, if one was added.
    pub change_position: Option<usize>,
}

/// Why funding failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FundError {
    #[error("Insufficient funds")]
    InsufficientFunds,
    #[error("TX must have at least one output")]
    NoOutputs,
    #[error("changePosition out of bounds")]
    ChangePosition,
    #[error("Amount out of range")]
    OutputsTooLarge,
}

/// The virtual size the transaction will have once signed, assuming every
/// input without a witness or script_sig is a P2WPKH spend.
fn signed_vsize(tx: &Transaction) -> u64 {
    let mut sized = tx.clone();
    for input in &mut sized.input {
        if input.witness.is_empty() && input.script_sig.is_empty() {
            input.witness = Witness::from_slice(&[vec![0u8; 72], vec![0u8; 33]]);
        }
    }
    sized.weight().to_vbytes_ceil()
}

/// Adds wallet coins (largest first) to `tx` until its inputs cover its
/// outputs plus the fee at `rate`, then a change output to `change` unless
/// the change would be dust. `preset_inputs` is the value of the inputs `tx`
/// already has.
pub fn fund(
    mut tx: Transaction,
    preset_inputs: Amount,
    mut coins: Vec<(OutPoint, Amount)>,
    rate: SatPerKvb,
    change: ScriptBuf,
    change_position: Option<usize>,
    sequence: Sequence,
) -> Result<Funded, FundError> {
    if tx.output.is_empty() {
        return Err(FundError::NoOutputs);
    }
    if change_position.is_some_and(|p| p > tx.output.len()) {
        return Err(FundError::ChangePosition);
    }
    let outputs = tx
        .output
        .iter()
        .try_fold(Amount::ZERO, |sum, o| sum.checked_add(o.value))
        .filter(|sum| *sum <= Amount::MAX_MONEY)
        .ok_or(FundError::OutputsTooLarge)?;
    coins.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut coins = coins.into_iter();
    let mut inputs = preset_inputs;
    loop {
        let fee = rate.fee(signed_vsize(&tx));
        let needed = outputs
            .checked_add(fee)
            .ok_or(FundError::InsufficientFunds)?;
        if inputs >= needed {
            let position = change_position.unwrap_or(tx.output.len());
            let mut with_change = tx.clone();
            with_change.output.insert(
                position,
                TxOut {
                    value: Amount::ZERO,
                    script_pubkey: change.clone(),
                },
            );
            let fee_with_change = rate.fee(signed_vsize(&with_change));
            if let Some(rest) = outputs
                .checked_add(fee_with_change)
                .and_then(|needed| inputs.checked_sub(needed))
                && rest >= DUST_P2WPKH
            {
                with_change.output[position].value = rest;
                return Ok(Funded {
                    tx: with_change,
                    fee: fee_with_change,
                    change_position: Some(position),
                });
            }
            return Ok(Funded {
                fee: inputs - outputs,
                tx,
                change_position: None,
            });
        }
        let (outpoint, value) = coins.next().ok_or(FundError::InsufficientFunds)?;
        tx.input.push(TxIn {
            previous_output: outpoint,
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        });
        inputs += value;
    }
}

/// The regtest address of a script, if it has one.
pub fn regtest_address(script: &bitcoin::Script) -> Option<Address> {
    Address::from_script(script, Network::Regtest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::secp256k1::ecdsa::Signature;
    use bitcoin::transaction::Version;
    use bitcoin::{Txid, WPubkeyHash};

    fn unsigned(spending: OutPoint, pay: Amount) -> Transaction {
        Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: spending,
                ..Default::default()
            }],
            output: vec![TxOut {
                value: pay,
                script_pubkey: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([4; 20])),
            }],
        }
    }

    #[test]
    fn the_address_is_regtest_p2wpkh_and_stable_per_seed() {
        let wallet = Wallet::regtest();
        assert!(wallet.address().to_string().starts_with("bcrt1q"));
        assert!(wallet.script_pubkey().is_p2wpkh());
        assert_eq!(
            Wallet::regtest().address(),
            wallet.address(),
            "same seed, same key"
        );
        assert_ne!(Wallet::from_seed(&[1; 32]).address(), wallet.address());
    }

    #[test]
    fn a_signature_verifies_against_the_bip143_sighash() {
        let wallet = Wallet::regtest();
        let spent = TxOut {
            value: Amount::from_sat(100_000),
            script_pubkey: wallet.script_pubkey(),
        };
        let mut tx = unsigned(
            OutPoint::new(Txid::from_byte_array([8; 32]), 0),
            Amount::from_sat(90_000),
        );
        wallet.sign_input(&mut tx, 0, &spent).unwrap();
        let witness: Vec<&[u8]> = tx.input[0].witness.iter().collect();
        assert_eq!(witness.len(), 2);
        assert_eq!(witness[1], &wallet.public_key().to_bytes()[..]);
        let (sig, sighash_type) = witness[0].split_at(witness[0].len() - 1);
        assert_eq!(sighash_type, &[0x01], "SIGHASH_ALL");
        let sig = Signature::from_der(sig).unwrap();

        let secp = Secp256k1::verification_only();
        let sighash = SighashCache::new(&tx)
            .p2wpkh_signature_hash(0, &spent.script_pubkey, spent.value, EcdsaSighashType::All)
            .unwrap();
        let message = Message::from_digest(sighash.to_byte_array());
        secp.verify_ecdsa(&message, &sig, &wallet.public_key().0)
            .expect("valid signature");

        // The signature commits to the amount spent (BIP143).
        let other = SighashCache::new(&tx)
            .p2wpkh_signature_hash(
                0,
                &spent.script_pubkey,
                Amount::from_sat(100_001),
                EcdsaSighashType::All,
            )
            .unwrap();
        let other = Message::from_digest(other.to_byte_array());
        assert!(
            secp.verify_ecdsa(&other, &sig, &wallet.public_key().0)
                .is_err()
        );
    }

    #[test]
    fn only_the_wallets_own_outputs_are_signed() {
        let wallet = Wallet::regtest();
        let foreign = TxOut {
            value: Amount::from_sat(1000),
            script_pubkey: ScriptBuf::new_p2wpkh(&WPubkeyHash::from_byte_array([4; 20])),
        };
        let mut tx = unsigned(OutPoint::null(), Amount::from_sat(500));
        assert_eq!(
            wallet.sign_input(&mut tx, 0, &foreign),
            Err(SignError::NotOurs(0))
        );
        assert_eq!(
            wallet.sign_input(&mut tx, 3, &foreign),
            Err(SignError::NoSuchInput(3))
        );
        assert!(tx.input[0].witness.is_empty());
    }

    #[test]
    fn funding_adds_inputs_and_change_at_the_fee_rate() {
        let wallet = Wallet::regtest();
        let mut tx = unsigned(OutPoint::null(), Amount::from_sat(150_000_000));
        tx.input.clear();
        let coins = vec![
            (
                OutPoint::new(Txid::from_byte_array([1; 32]), 0),
                Amount::from_sat(100_000_000),
            ),
            (
                OutPoint::new(Txid::from_byte_array([2; 32]), 0),
                Amount::from_sat(100_000_000),
            ),
            (
                OutPoint::new(Txid::from_byte_array([3; 32]), 0),
                Amount::from_sat(100_000_000),
            ),
        ];
        let rate = SatPerKvb(2_000);
        let funded = fund(
            tx,
            Amount::ZERO,
            coins,
            rate,
            wallet.script_pubkey(),
            None,
            Sequence::ENABLE_RBF_NO_LOCKTIME,
        )
        .unwrap();
        assert_eq!(funded.tx.input.len(), 2);
        assert_eq!(funded.change_position, Some(1));
        let change = funded.tx.output[1].value;
        assert_eq!(
            Amount::from_sat(200_000_000),
            Amount::from_sat(150_000_000) + change + funded.fee,
            "inputs = outputs + fee"
        );
        // Signed, the transaction pays at least the rate.
        let mut signed = funded.tx.clone();
        for i in 0..2 {
            let spent = TxOut {
                value: Amount::from_sat(100_000_000),
                script_pubkey: wallet.script_pubkey(),
            };
            wallet.sign_input(&mut signed, i, &spent).unwrap();
        }
        let vsize = signed.weight().to_vbytes_ceil();
        assert!(
            funded.fee >= rate.fee(vsize),
            "{} < {}",
            funded.fee,
            rate.fee(vsize)
        );
        assert!(funded.fee <= rate.fee(vsize + 4), "estimate is tight");
    }

    #[test]
    fn funding_fails_without_enough_coins_and_skips_dust_change() {
        let wallet = Wallet::regtest();
        let mut tx = unsigned(OutPoint::null(), Amount::from_sat(10_000));
        tx.input.clear();
        let coin = (
            OutPoint::new(Txid::from_byte_array([1; 32]), 0),
            Amount::from_sat(10_400),
        );
        let rate = SatPerKvb(1_000);
        let err = fund(
            tx.clone(),
            Amount::ZERO,
            vec![],
            rate,
            wallet.script_pubkey(),
            None,
            Sequence::MAX,
        );
        assert_eq!(err, Err(FundError::InsufficientFunds));
        let funded = fund(
            tx,
            Amount::ZERO,
            vec![coin],
            rate,
            wallet.script_pubkey(),
            None,
            Sequence::MAX,
        )
        .unwrap();
        assert_eq!(funded.change_position, None, "400 sat minus fee is dust");
        assert_eq!(funded.fee, Amount::from_sat(400));
    }
}
