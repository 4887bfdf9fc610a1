//! bitcoind's JSON shapes for headers, blocks, transactions, scripts and
//! amounts, and parsing of bitcoind-style parameters.

use std::str::FromStr;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Amount, Block, Script, Transaction};
use serde_json::{Value, json};

use super::chain::{Chain, Located};
use super::error::{RpcError, code};
use super::wallet::regtest_address;

/// An amount as bitcoind prints it: a JSON number of BTC.
pub fn btc(amount: Amount) -> Value {
    json!(amount.to_btc())
}

/// A BTC amount given as a JSON number (or numeric string, as bitcoind
/// accepts); at most 8 decimals, not negative. Satoshis from here on.
pub fn parse_btc(value: &Value) -> Result<Amount, RpcError> {
    let invalid = || RpcError::new(code::TYPE_ERROR, "Invalid amount");
    let btc = match value {
        Value::Number(n) => n.as_f64().ok_or_else(invalid)?,
        Value::String(s) => f64::from_str(s).map_err(|_| invalid())?,
        _ => {
            return Err(RpcError::new(
                code::TYPE_ERROR,
                "Amount is not a number or string",
            ));
        }
    };
    if !btc.is_finite() || btc < 0.0 {
        return Err(RpcError::new(code::TYPE_ERROR, "Amount out of range"));
    }
    let sats = btc * 100_000_000.0;
    let rounded = sats.round();
    if (sats - rounded).abs() > 1e-3 {
        return Err(invalid());
    }
    let amount = Amount::from_sat(rounded as u64);
    if amount > Amount::MAX_MONEY {
        return Err(RpcError::new(code::TYPE_ERROR, "Amount out of range"));
    }
    Ok(amount)
}

/// bitcoind's scriptPubKey object.
pub fn script_pubkey(script: &Script) -> Value {
    let kind = if script.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if script.is_p2wsh() {
        "witness_v0_scripthash"
    } else if script.is_p2tr() {
        "witness_v1_taproot"
    } else if script.is_p2pkh() {
        "pubkeyhash"
    } else if script.is_p2sh() {
        "scripthash"
    } else if script.is_op_return() {
        "nulldata"
    } else if script.is_p2pk() {
        "pubkey"
    } else if script.is_multisig() {
        "multisig"
    } else if script.is_witness_program() {
        "witness_unknown"
    } else {
        "nonstandard"
    };
    let mut object = json!({
        "asm": script.to_asm_string(),
        "hex": script.to_hex_string(),
        "type": kind,
    });
    if let Some(address) = regtest_address(script) {
        object["address"] = json!(address.to_string());
    }
    object
}

/// decoderawtransaction's object (plus `hex`, as getrawtransaction verbose).
pub fn transaction(tx: &Transaction) -> Value {
    let vin: Vec<Value> = tx
        .input
        .iter()
        .map(|input| {
            let mut object = if tx.is_coinbase() {
                json!({ "coinbase": input.script_sig.to_hex_string() })
            } else {
                json!({
                    "txid": input.previous_output.txid.to_string(),
                    "vout": input.previous_output.vout,
                    "scriptSig": {
                        "asm": input.script_sig.to_asm_string(),
                        "hex": input.script_sig.to_hex_string(),
                    },
                })
            };
            if !input.witness.is_empty() {
                object["txinwitness"] = input.witness.iter().map(hex::encode).collect();
            }
            object["sequence"] = json!(input.sequence.to_consensus_u32());
            object
        })
        .collect();
    let vout: Vec<Value> = tx
        .output
        .iter()
        .enumerate()
        .map(|(n, output)| {
            json!({
                "value": btc(output.value),
                "n": n,
                "scriptPubKey": script_pubkey(&output.script_pubkey),
            })
        })
        .collect();
    json!({
        "txid": tx.compute_txid().to_string(),
        "hash": tx.compute_wtxid().to_string(),
        "version": tx.version.0,
        "size": tx.total_size(),
        "vsize": tx.vsize(),
        "weight": tx.weight().to_wu(),
        "locktime": tx.lock_time.to_consensus_u32(),
        "vin": vin,
        "vout": vout,
        "hex": serialize_hex(tx),
    })
}

/// getblockheader's verbose object (confirmations -1 for a stale block).
pub fn header(chain: &Chain, at: &Located) -> Value {
    let (block, height) = (at.block, at.height);
    let h = &block.header;
    let confirmations = if at.active {
        i64::from(chain.height() - height) + 1
    } else {
        -1
    };
    let mut object = json!({
        "hash": h.block_hash().to_string(),
        "confirmations": confirmations,
        "height": height,
        "version": h.version.to_consensus(),
        "versionHex": format!("{:08x}", h.version.to_consensus() as u32),
        "merkleroot": h.merkle_root.to_string(),
        "time": h.time,
        "mediantime": chain.median_time_past(height.min(chain.height())),
        "nonce": h.nonce,
        "bits": format!("{:08x}", h.bits.to_consensus()),
        "difficulty": h.difficulty_float(),
        "chainwork": hex::encode(at.chainwork.to_be_bytes()),
        "nTx": block.txdata.len(),
    });
    if height > 0 {
        object["previousblockhash"] = json!(h.prev_blockhash.to_string());
    }
    if let Some(next) = chain.hash_at(height + 1).filter(|_| at.active) {
        object["nextblockhash"] = json!(next.to_string());
    }
    object
}

/// Cumulative work as 64 hex digits, bitcoind's `chainwork`.
pub fn chainwork_hex(chain: &Chain, height: u32) -> String {
    hex::encode(
        chain
            .chainwork(height)
            .expect("height within the chain")
            .to_be_bytes(),
    )
}

/// getblock's object at verbosity 1 (txids) or 2 (transaction objects).
pub fn block(chain: &Chain, at: &Located, verbosity: u8) -> Value {
    let block: &Block = at.block;
    let mut object = header(chain, at);
    object["size"] = json!(block.total_size());
    object["strippedsize"] = json!((block.weight().to_wu() as usize - block.total_size()) / 3);
    object["weight"] = json!(block.weight().to_wu());
    object["tx"] = if verbosity >= 2 {
        block.txdata.iter().map(transaction).collect()
    } else {
        block
            .txdata
            .iter()
            .map(|tx| json!(tx.compute_txid().to_string()))
            .collect()
    };
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btc_amounts_parse_exactly_to_satoshis() {
        assert_eq!(parse_btc(&json!(0.00002)).unwrap(), Amount::from_sat(2000));
        assert_eq!(
            parse_btc(&json!(1.1)).unwrap(),
            Amount::from_sat(110_000_000)
        );
        assert_eq!(
            parse_btc(&json!(21)).unwrap(),
            Amount::from_btc(21.0).unwrap()
        );
        assert_eq!(
            parse_btc(&json!("0.5")).unwrap(),
            Amount::from_sat(50_000_000)
        );
        assert_eq!(parse_btc(&json!(0.000000001)).unwrap_err().code, -3);
        assert_eq!(parse_btc(&json!(-1)).unwrap_err().code, -3);
        assert_eq!(parse_btc(&json!(21_000_001)).unwrap_err().code, -3);
        assert_eq!(parse_btc(&json!(true)).unwrap_err().code, -3);
        assert_eq!(btc(Amount::from_sat(2000)), json!(0.00002));
    }
}
