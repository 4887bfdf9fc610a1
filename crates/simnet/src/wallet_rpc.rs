//! The wallet's bitcoind methods: addresses, balance, coins, building,
//! funding, signing and sending transactions.

use std::collections::HashMap;
use std::str::FromStr;

use bitcoin::absolute::LockTime;
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use serde_json::{Value, json};

use super::error::{RpcError, code};
use super::json;
use super::params::Params;
use super::state::State;
use super::wallet::{self, FundError, MIN_RELAY_SAT_PER_KVB, SatPerKvb};

pub(super) fn regtest_address(text: &str) -> Result<Address, RpcError> {
    Address::from_str(text)
        .ok()
        .and_then(|a| a.require_network(Network::Regtest).ok())
        .ok_or_else(|| RpcError::new(code::INVALID_ADDRESS_OR_KEY, "Error: Invalid address"))
}

/// getaddressinfo's object: whether the wallet owns the address, and its
/// public key if so.
pub(super) fn address_info(s: &State, address: &Address) -> Value {
    let script = address.script_pubkey();
    let mine = script == s.wallet.script_pubkey();
    let mut info = json!({
        "address": address.to_string(),
        "scriptPubKey": script.to_hex_string(),
        "ismine": mine,
        "solvable": mine,
        "iswatchonly": false,
        "isscript": script.is_p2sh() || script.is_p2wsh(),
        "iswitness": script.is_witness_program(),
        "ischange": false,
        "labels": [],
    });
    if let Some(program) = script.witness_version() {
        info["witness_version"] = json!(program.to_num());
        info["witness_program"] = json!(hex::encode(&script.as_bytes()[2..]));
    }
    if mine {
        info["pubkey"] = json!(s.wallet.public_key().to_string());
        info["iscompressed"] = json!(true);
    }
    info
}

/// Mature confirmed coins not spent in the mempool, plus the wallet's
/// outputs in mempool transactions (bitcoind's trusted balance).
pub(super) fn balance(s: &State) -> Amount {
    let script = s.wallet.script_pubkey();
    let confirmed: Amount = s
        .spendable_coins()
        .iter()
        .map(|(_, c)| c.output.value)
        .sum();
    let pending: Amount = s
        .mempool
        .entries()
        .iter()
        .flat_map(|e| {
            e.tx.output
                .iter()
                .enumerate()
                .filter(|(v, o)| {
                    o.script_pubkey == script
                        && s.mempool
                            .spender(&OutPoint::new(e.txid, *v as u32))
                            .is_none()
                })
                .map(|(_, o)| o.value)
                .collect::<Vec<_>>()
        })
        .sum();
    confirmed + pending
}

pub(super) fn listunspent(s: &State, p: &Params) -> Result<Value, RpcError> {
    let minconf = p.opt_u64(0, "minconf")?.unwrap_or(1);
    let maxconf = p.opt_u64(1, "maxconf")?.unwrap_or(9_999_999);
    let address = s.wallet.address().to_string();
    let list: Vec<Value> = s
        .spendable_coins()
        .into_iter()
        .filter(|(_, coin)| {
            let confirmations = u64::from(s.confirmations(coin.height));
            confirmations >= minconf && confirmations <= maxconf
        })
        .map(|(outpoint, coin)| {
            json!({
                "txid": outpoint.txid.to_string(),
                "vout": outpoint.vout,
                "address": address,
                "label": "",
                "scriptPubKey": coin.output.script_pubkey.to_hex_string(),
                "amount": json::btc(coin.output.value),
                "confirmations": s.confirmations(coin.height),
                "spendable": true,
                "solvable": true,
                "parent_descs": [],
                "safe": true,
            })
        })
        .collect();
    Ok(Value::Array(list))
}

pub(super) fn createrawtransaction(p: &Params) -> Result<Value, RpcError> {
    let inputs = p
        .req(0, "inputs")?
        .as_array()
        .ok_or_else(|| RpcError::new(code::TYPE_ERROR, "inputs must be an array"))?;
    let replaceable = p.opt_bool(3, "replaceable")?.unwrap_or(false);
    let lock_time = p.opt_u64(2, "locktime")?.unwrap_or(0);
    let lock_time = u32::try_from(lock_time)
        .map_err(|_| RpcError::invalid_parameter("Invalid parameter, locktime out of range"))?;
    let mut tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::from_consensus(lock_time),
        input: Vec::new(),
        output: Vec::new(),
    };
    for input in inputs {
        let txid = input
            .get("txid")
            .and_then(Value::as_str)
            .and_then(|t| Txid::from_str(t).ok())
            .ok_or_else(|| RpcError::invalid_parameter("Invalid parameter, missing txid key"))?;
        let vout = input
            .get("vout")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| RpcError::invalid_parameter("Invalid parameter, missing vout key"))?;
        let sequence = match input.get("sequence").and_then(Value::as_u64) {
            Some(n) => Sequence(u32::try_from(n).map_err(|_| {
                RpcError::invalid_parameter("Invalid parameter, sequence number is out of range")
            })?),
            None if replaceable => Sequence::ENABLE_RBF_NO_LOCKTIME,
            None if lock_time != 0 => Sequence::ENABLE_LOCKTIME_NO_RBF,
            None => Sequence::MAX,
        };
        tx.input.push(TxIn {
            previous_output: OutPoint::new(txid, vout),
            script_sig: ScriptBuf::new(),
            sequence,
            witness: Witness::new(),
        });
    }
    // Outputs: an object {address: amount, "data": hex} or an array of
    // one-key objects.
    let outputs = p.req(1, "outputs")?;
    let pairs: Vec<(&String, &Value)> = match outputs {
        Value::Object(map) => map.iter().collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter())
            .collect(),
        _ => {
            return Err(RpcError::new(
                code::TYPE_ERROR,
                "outputs must be an object or array",
            ));
        }
    };
    for (key, value) in pairs {
        let output = if key == "data" {
            let data = value
                .as_str()
                .and_then(|d| hex::decode(d).ok())
                .ok_or_else(|| {
                    RpcError::invalid_parameter("Invalid parameter, data must be hex")
                })?;
            let push = bitcoin::script::PushBytesBuf::try_from(data)
                .map_err(|_| RpcError::invalid_parameter("Invalid parameter, data too long"))?;
            TxOut {
                value: Amount::ZERO,
                script_pubkey: ScriptBuf::new_op_return(push),
            }
        } else {
            let address = Address::from_str(key)
                .ok()
                .and_then(|a| a.require_network(Network::Regtest).ok())
                .ok_or_else(|| {
                    RpcError::new(
                        code::INVALID_ADDRESS_OR_KEY,
                        format!("Invalid Bitcoin address: {key}"),
                    )
                })?;
            TxOut {
                value: json::parse_btc(value)?,
                script_pubkey: address.script_pubkey(),
            }
        };
        tx.output.push(output);
    }
    Ok(json!(serialize_hex(&tx)))
}

/// The highest fee rate the wallet pays: 0.1 BTC/kvB (bitcoind's
/// -maxtxfee default, as a rate).
const MAX_SAT_PER_KVB: u64 = 10_000_000;

/// The fee rate of fundrawtransaction's options: `fee_rate` (sat/vB) or
/// `feeRate` (BTC/kvB); the simulator's rate otherwise.
fn fee_rate_option(s: &State, options: Option<&Value>) -> Result<SatPerKvb, RpcError> {
    let Some(options) = options.and_then(Value::as_object) else {
        return Ok(s.fee_rate);
    };
    let rate = match (options.get("fee_rate"), options.get("feeRate")) {
        (Some(_), Some(_)) => {
            return Err(RpcError::invalid_parameter(
                "Cannot specify both fee_rate (sat/vB) and feeRate (BTC/kvB)",
            ));
        }
        (Some(sat_per_vb), None) => {
            let rate = sat_per_vb
                .as_f64()
                .filter(|r| r.is_finite() && *r >= 0.0)
                .ok_or_else(|| RpcError::new(code::TYPE_ERROR, "Invalid amount"))?;
            SatPerKvb((rate * 1000.0).round() as u64)
        }
        (None, Some(btc_per_kvb)) => SatPerKvb(json::parse_btc(btc_per_kvb)?.to_sat()),
        (None, None) => s.fee_rate,
    };
    if rate.0 > MAX_SAT_PER_KVB {
        return Err(RpcError::new(
            code::WALLET_ERROR,
            "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)",
        ));
    }
    if rate.0 < MIN_RELAY_SAT_PER_KVB {
        return Err(RpcError::new(
            code::WALLET_ERROR,
            format!(
                "Fee rate ({:.3} sat/vB) is lower than the minimum fee rate setting ({:.3} sat/vB)",
                rate.0 as f64 / 1000.0,
                MIN_RELAY_SAT_PER_KVB as f64 / 1000.0
            ),
        ));
    }
    Ok(rate)
}

/// Funds `tx` from the wallet; returns (tx, fee, change position).
fn fund(s: &State, tx: Transaction, options: Option<&Value>) -> Result<wallet::Funded, RpcError> {
    let rate = fee_rate_option(s, options)?;
    let object = options.and_then(Value::as_object);
    let change_position = match object.and_then(|o| o.get("changePosition")) {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .map(|p| p as usize)
                .ok_or_else(|| RpcError::invalid_parameter("changePosition out of bounds"))?,
        ),
    };
    let replaceable = object
        .and_then(|o| o.get("replaceable"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let sequence = if replaceable {
        Sequence::ENABLE_RBF_NO_LOCKTIME
    } else {
        Sequence::ENABLE_LOCKTIME_NO_RBF
    };
    let mut preset = Amount::ZERO;
    for input in &tx.input {
        let output = s.prevout(&input.previous_output).ok_or_else(|| {
            RpcError::new(code::WALLET_ERROR, "Unable to find UTXO for external input")
        })?;
        preset += output.value;
    }
    let coins = s
        .spendable_coins()
        .into_iter()
        .filter(|(o, _)| !tx.input.iter().any(|i| i.previous_output == *o))
        .map(|(o, c)| (o, c.output.value))
        .collect();
    wallet::fund(
        tx,
        preset,
        coins,
        rate,
        s.wallet.script_pubkey(),
        change_position,
        sequence,
    )
    .map_err(|e| match e {
        FundError::InsufficientFunds => RpcError::new(code::WALLET_ERROR, "Insufficient funds"),
        FundError::NoOutputs => RpcError::new(code::WALLET_ERROR, e.to_string()),
        FundError::ChangePosition => RpcError::invalid_parameter(e.to_string()),
        FundError::OutputsTooLarge => RpcError::new(code::TYPE_ERROR, e.to_string()),
    })
}

pub(super) fn fundrawtransaction(s: &mut State, p: &Params) -> Result<Value, RpcError> {
    let tx = p.transaction(0, "hexstring")?;
    let lock = p
        .opt(1)
        .and_then(|o| o.get("lockUnspents"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let funded = fund(s, tx, p.opt(1))?;
    if lock {
        s.locked
            .extend(funded.tx.input.iter().map(|i| i.previous_output));
    }
    Ok(json!({
        "hex": serialize_hex(&funded.tx),
        "fee": json::btc(funded.fee),
        "changepos": funded.change_position.map_or(-1, |p| p as i64),
    }))
}

/// Signs every input paying the wallet's key; reports the others that have
/// no signature, as bitcoind does.
fn sign(s: &State, tx: &mut Transaction, prevtxs: &HashMap<OutPoint, TxOut>) -> Vec<Value> {
    let mut errors = Vec::new();
    for index in 0..tx.input.len() {
        let outpoint = tx.input[index].previous_output;
        let known = s
            .prevout(&outpoint)
            .or_else(|| prevtxs.get(&outpoint).cloned());
        let problem = match known {
            Some(spent) if spent.script_pubkey == s.wallet.script_pubkey() => {
                match s.wallet.sign_input(tx, index, &spent) {
                    Ok(()) => None,
                    Err(e) => Some(e.to_string()),
                }
            }
            Some(_)
                if !tx.input[index].witness.is_empty()
                    || !tx.input[index].script_sig.is_empty() =>
            {
                None
            }
            Some(_) => {
                Some("Unable to sign input, invalid stack size (possibly missing key)".to_owned())
            }
            None => Some("Input not found or already spent".to_owned()),
        };
        if let Some(error) = problem {
            let input = &tx.input[index];
            errors.push(json!({
                "txid": outpoint.txid.to_string(),
                "vout": outpoint.vout,
                "witness": input.witness.iter().map(hex::encode).collect::<Vec<_>>(),
                "scriptSig": input.script_sig.to_hex_string(),
                "sequence": input.sequence.to_consensus_u32(),
                "error": error,
            }));
        }
    }
    errors
}

/// signrawtransactionwithwallet's `prevtxs`: outputs not (yet) in the
/// chain or mempool, e.g. of a parent not broadcast yet.
fn prevtxs(p: &Params) -> Result<HashMap<OutPoint, TxOut>, RpcError> {
    let Some(list) = p.opt(1) else {
        return Ok(HashMap::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| RpcError::new(code::TYPE_ERROR, "prevtxs must be an array"))?;
    let mut outputs = HashMap::new();
    for entry in list {
        let txid = entry
            .get("txid")
            .and_then(Value::as_str)
            .and_then(|t| Txid::from_str(t).ok())
            .ok_or_else(|| {
                RpcError::invalid_parameter("prevtxs: txid must be a 64-digit hex string")
            })?;
        let vout = entry
            .get("vout")
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| {
                RpcError::invalid_parameter("prevtxs: vout must be a non-negative integer")
            })?;
        let script_pubkey = entry
            .get("scriptPubKey")
            .and_then(Value::as_str)
            .and_then(|h| hex::decode(h).ok())
            .map(ScriptBuf::from_bytes)
            .ok_or_else(|| RpcError::invalid_parameter("prevtxs: scriptPubKey must be hex"))?;
        let value = json::parse_btc(
            entry
                .get("amount")
                .ok_or_else(|| RpcError::invalid_parameter("prevtxs: missing amount"))?,
        )?;
        outputs.insert(
            OutPoint::new(txid, vout),
            TxOut {
                value,
                script_pubkey,
            },
        );
    }
    Ok(outputs)
}

pub(super) fn signrawtransactionwithwallet(s: &State, p: &Params) -> Result<Value, RpcError> {
    let mut tx = p.transaction(0, "hexstring")?;
    let errors = sign(s, &mut tx, &prevtxs(p)?);
    let mut result = json!({ "hex": serialize_hex(&tx), "complete": errors.is_empty() });
    if !errors.is_empty() {
        result["errors"] = Value::Array(errors);
    }
    Ok(result)
}

pub(super) fn sendtoaddress(s: &mut State, p: &Params) -> Result<Value, RpcError> {
    let address = regtest_address(p.str(0, "address")?)?;
    let amount = json::parse_btc(p.req(1, "amount")?)?;
    if amount == Amount::ZERO {
        return Err(RpcError::new(code::TYPE_ERROR, "Invalid amount for send"));
    }
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: Vec::new(),
        output: vec![TxOut {
            value: amount,
            script_pubkey: address.script_pubkey(),
        }],
    };
    let mut funded = fund(s, tx, None).map_err(|e| {
        if e.message == "Insufficient funds" {
            RpcError::new(code::WALLET_INSUFFICIENT_FUNDS, e.message)
        } else {
            e
        }
    })?;
    let errors = sign(s, &mut funded.tx, &HashMap::new());
    if !errors.is_empty() {
        return Err(RpcError::new(
            code::WALLET_ERROR,
            "Signing transaction failed",
        ));
    }
    Ok(json!(s.send(funded.tx)?.to_string()))
}
