//! The bitcoind JSON-RPC methods the simulator serves, with bitcoind 27's
//! parameters and result shapes.

use std::sync::Mutex;

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::{Amount, BlockHash, OutPoint, Txid};
use serde_json::{Value, json};

use super::error::{RpcError, SimnetError, code};
use super::json;
use super::params::Params;
use super::state::State;
use super::wallet::MIN_RELAY_SAT_PER_KVB;
use super::wallet_rpc::{self, regtest_address};

/// The most blocks one generatetoaddress mines (the chain lock is held
/// meanwhile).
const MAX_BLOCKS_PER_CALL: u32 = 10_000;

/// Runs one call against the state.
pub fn call(state: &Mutex<State>, method: &str, values: &[Value]) -> Result<Value, RpcError> {
    let p = Params::new(method, values);
    let mut state = state
        .lock()
        .map_err(|_| RpcError::new(code::MISC_ERROR, "simnet state poisoned"))?;
    let s = &mut *state;
    match method {
        "getblockchaininfo" => Ok(blockchain_info(s)),
        "getblockcount" => Ok(json!(s.chain.height())),
        "getbestblockhash" => Ok(json!(s.chain.tip_hash().to_string())),
        "getblockhash" => {
            let height = p.u64(0, "height")?;
            u32::try_from(height)
                .ok()
                .and_then(|h| s.chain.hash_at(h))
                .map(|h| json!(h.to_string()))
                .ok_or_else(|| RpcError::invalid_parameter("Block height out of range"))
        }
        "getblockheader" => {
            let hash: BlockHash = p.hash(0, "blockhash")?;
            let at = s
                .chain
                .lookup(&hash)
                .ok_or_else(RpcError::block_not_found)?;
            if p.opt_bool(1, "verbose")?.unwrap_or(true) {
                Ok(json::header(&s.chain, &at))
            } else {
                Ok(json!(serialize_hex(&at.block.header)))
            }
        }
        "getblock" => {
            let hash: BlockHash = p.hash(0, "blockhash")?;
            let verbosity = p.verbosity(1, "verbosity", 1)?;
            let at = s
                .chain
                .lookup(&hash)
                .ok_or_else(RpcError::block_not_found)?;
            if verbosity == 0 {
                Ok(json!(serialize_hex(at.block)))
            } else {
                Ok(json::block(&s.chain, &at, verbosity))
            }
        }
        "gettxout" => gettxout(s, &p),
        "getrawtransaction" => getrawtransaction(s, &p),
        "decoderawtransaction" => Ok(json::transaction(&p.transaction(0, "hexstring")?)),
        "getrawmempool" => {
            let txids: Vec<Value> = s
                .mempool
                .entries()
                .iter()
                .map(|e| json!(e.txid.to_string()))
                .collect();
            Ok(Value::Array(txids))
        }
        "getmempoolinfo" => Ok(mempool_info(s)),
        "estimatesmartfee" => estimatesmartfee(s, &p),
        "sendrawtransaction" => {
            let tx = p.transaction(0, "hexstring")?;
            Ok(json!(s.send(tx)?.to_string()))
        }
        "submitpackage" => submitpackage(s, &p),
        "getnetworkinfo" => Ok(network_info()),
        "getnewaddress" | "getrawchangeaddress" => Ok(json!(s.wallet.address().to_string())),
        "getaddressinfo" => {
            let address = regtest_address(p.str(0, "address")?)?;
            Ok(wallet_rpc::address_info(s, &address))
        }
        "getbalance" => Ok(json::btc(wallet_rpc::balance(s))),
        "listunspent" => wallet_rpc::listunspent(s, &p),
        "createrawtransaction" => wallet_rpc::createrawtransaction(&p),
        "fundrawtransaction" => wallet_rpc::fundrawtransaction(s, &p),
        "signrawtransactionwithwallet" => wallet_rpc::signrawtransactionwithwallet(s, &p),
        "sendtoaddress" => wallet_rpc::sendtoaddress(s, &p),
        "generatetoaddress" => {
            let n = p.u64(0, "nblocks")?;
            let address = regtest_address(p.str(1, "address")?)?;
            let n = u32::try_from(n)
                .ok()
                .filter(|n| *n <= MAX_BLOCKS_PER_CALL)
                .ok_or_else(|| {
                    RpcError::invalid_parameter(format!(
                        "nblocks must be at most {MAX_BLOCKS_PER_CALL} on the simnet"
                    ))
                })?;
            let hashes = s.mine(n, address.script_pubkey()).map_err(into_rpc)?;
            Ok(hashes.iter().map(|h| json!(h.to_string())).collect())
        }
        "invalidateblock" => {
            let hash: BlockHash = p.hash(0, "blockhash")?;
            s.invalidate(&hash).map_err(into_rpc)?;
            Ok(Value::Null)
        }
        _ => Err(RpcError::new(code::METHOD_NOT_FOUND, "Method not found")),
    }
}

fn into_rpc(e: SimnetError) -> RpcError {
    match e {
        SimnetError::Rpc(e) => e,
        other => {
            tracing::error!(error = %other, "simnet could not persist a chain change");
            RpcError::new(code::MISC_ERROR, other.to_string())
        }
    }
}

fn blockchain_info(s: &State) -> Value {
    let height = s.chain.height();
    let tip = s.chain.tip();
    json!({
        "chain": "regtest",
        "blocks": height,
        "headers": height,
        "bestblockhash": s.chain.tip_hash().to_string(),
        "difficulty": tip.header.difficulty_float(),
        "time": tip.header.time,
        "mediantime": s.chain.median_time_past(height),
        "verificationprogress": 1,
        "initialblockdownload": false,
        "chainwork": json::chainwork_hex(&s.chain, height),
        "size_on_disk": s.chain.blocks_after_genesis().iter().map(|b| b.total_size() as u64).sum::<u64>(),
        "pruned": false,
        "warnings": "",
    })
}

fn network_info() -> Value {
    json!({
        "version": 270000,
        "subversion": "/Satoshi:27.0.0/",
        "protocolversion": 70016,
        "localservices": "0000000000000409",
        "localservicesnames": ["NETWORK", "WITNESS", "NETWORK_LIMITED"],
        "localrelay": true,
        "timeoffset": 0,
        "networkactive": true,
        "connections": 0,
        "connections_in": 0,
        "connections_out": 0,
        "networks": [],
        "relayfee": json::btc(Amount::from_sat(MIN_RELAY_SAT_PER_KVB)),
        "incrementalfee": json::btc(Amount::from_sat(MIN_RELAY_SAT_PER_KVB)),
        "localaddresses": [],
        "warnings": "",
    })
}

fn mempool_info(s: &State) -> Value {
    let entries = s.mempool.entries();
    let bytes: u64 = entries.iter().map(|e| e.tx.vsize() as u64).sum();
    json!({
        "loaded": true,
        "size": entries.len(),
        "bytes": bytes,
        "usage": bytes,
        "total_fee": json::btc(s.mempool.total_fee()),
        "maxmempool": 300_000_000,
        "mempoolminfee": json::btc(Amount::from_sat(MIN_RELAY_SAT_PER_KVB)),
        "minrelaytxfee": json::btc(Amount::from_sat(MIN_RELAY_SAT_PER_KVB)),
        "incrementalrelayfee": json::btc(Amount::from_sat(MIN_RELAY_SAT_PER_KVB)),
        "unbroadcastcount": 0,
        "fullrbf": false,
    })
}

fn estimatesmartfee(s: &State, p: &Params) -> Result<Value, RpcError> {
    let target = p.u64(0, "conf_target")?;
    if !(1..=1008).contains(&target) {
        return Err(RpcError::invalid_parameter(
            "Invalid conf_target, must be between 1 and 1008",
        ));
    }
    if let Some(mode) = p.opt_str(1, "estimate_mode")?
        && !["unset", "economical", "conservative"].contains(&mode.to_ascii_lowercase().as_str())
    {
        return Err(RpcError::invalid_parameter(
            r#"Invalid estimate_mode parameter, must be one of: "unset", "economical", "conservative""#,
        ));
    }
    Ok(json!({
        "feerate": json::btc(Amount::from_sat(s.fee_rate.0)),
        "blocks": target.max(2),
    }))
}

fn gettxout(s: &State, p: &Params) -> Result<Value, RpcError> {
    let txid: Txid = p.hash(0, "txid")?;
    let vout =
        u32::try_from(p.u64(1, "n")?).map_err(|_| RpcError::invalid_parameter("n out of range"))?;
    let include_mempool = p.opt_bool(2, "include_mempool")?.unwrap_or(true);
    let outpoint = OutPoint::new(txid, vout);
    let (output, confirmations, coinbase) = match s.chain.coin(&outpoint) {
        Some(coin) => {
            if include_mempool && s.mempool.spender(&outpoint).is_some() {
                return Ok(Value::Null);
            }
            (
                coin.output.clone(),
                s.confirmations(coin.height),
                coin.is_coinbase,
            )
        }
        None if include_mempool => match s.mempool.output(&outpoint) {
            Some(output) if s.mempool.spender(&outpoint).is_none() => (output.clone(), 0, false),
            _ => return Ok(Value::Null),
        },
        None => return Ok(Value::Null),
    };
    Ok(json!({
        "bestblock": s.chain.tip_hash().to_string(),
        "confirmations": confirmations,
        "value": json::btc(output.value),
        "scriptPubKey": json::script_pubkey(&output.script_pubkey),
        "coinbase": coinbase,
    }))
}

fn getrawtransaction(s: &State, p: &Params) -> Result<Value, RpcError> {
    let txid: Txid = p.hash(0, "txid")?;
    let verbose = p.verbosity(1, "verbosity", 0)? > 0;
    let in_block: Option<BlockHash> = match p.opt(2) {
        Some(_) => Some(p.hash(2, "blockhash")?),
        None => None,
    };
    let not_found = || {
        RpcError::new(
            code::INVALID_ADDRESS_OR_KEY,
            "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.",
        )
    };
    let (tx, height) = match (s.mempool.get(&txid), s.chain.transaction(&txid)) {
        (Some(entry), _) if in_block.is_none() => (entry.tx.clone(), None),
        (_, Some((height, tx))) => (tx.clone(), Some(height)),
        _ => return Err(not_found()),
    };
    if let Some(hash) = in_block
        && height.and_then(|h| s.chain.hash_at(h)) != Some(hash)
    {
        return Err(match s.chain.height_of(&hash) {
            None => RpcError::new(code::INVALID_ADDRESS_OR_KEY, "Block hash not found"),
            Some(_) => RpcError::new(
                code::INVALID_ADDRESS_OR_KEY,
                "No such transaction found in the provided block. Use gettransaction for wallet transactions.",
            ),
        });
    }
    if !verbose {
        return Ok(json!(serialize_hex(&tx)));
    }
    let mut object = json::transaction(&tx);
    if let Some(height) = height {
        let block = s.chain.block(height).expect("known height");
        if in_block.is_some() {
            object["in_active_chain"] = json!(true);
        }
        object["blockhash"] = json!(block.block_hash().to_string());
        object["confirmations"] = json!(s.confirmations(height));
        object["time"] = json!(block.header.time);
        object["blocktime"] = json!(block.header.time);
    }
    Ok(object)
}

fn submitpackage(s: &mut State, p: &Params) -> Result<Value, RpcError> {
    let raw = p.req(0, "package")?;
    let list = raw
        .as_array()
        .ok_or_else(|| RpcError::new(code::TYPE_ERROR, "package must be an array"))?;
    if list.is_empty() || list.len() > 25 {
        return Err(RpcError::invalid_parameter(
            "Array must contain between 1 and 25 transactions.",
        ));
    }
    let mut txs = Vec::with_capacity(list.len());
    for (i, _) in list.iter().enumerate() {
        txs.push(Params::new("submitpackage", list).transaction(i, "package")?);
    }
    let mut results = serde_json::Map::new();
    let mut all_ok = true;
    for tx in txs {
        let wtxid = tx.compute_wtxid().to_string();
        let vsize = tx.vsize();
        match s.send(tx) {
            Ok(txid) => {
                let fee = s.mempool.get(&txid).map(|e| e.fee).unwrap_or(Amount::ZERO);
                results.insert(
                    wtxid,
                    json!({ "txid": txid.to_string(), "vsize": vsize, "fees": { "base": json::btc(fee) } }),
                );
            }
            Err(e) => {
                all_ok = false;
                results.insert(wtxid, json!({ "error": e.message }));
            }
        }
    }
    Ok(json!({
        "package_msg": if all_ok { "success" } else { "transaction failed" },
        "tx-results": results,
        "replaced-transactions": [],
    }))
}
