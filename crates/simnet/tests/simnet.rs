//! The regtest chain simulator, driven the way an LDK node drives bitcoind:
//! lightning-block-sync's own RpcClient, ChainPoller and SpvClient (which
//! validate proof of work, chainwork, merkle roots and witness commitments),
//! and the wallet calls ldk-sample makes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use bitcoin::block::Header;
use bitcoin::{Address, Amount, BlockHash, Network, Transaction, Txid};
use lightning::chain::transaction::TransactionData;
use lightning::chain::{BestBlock, Listen};
use lightning_block_sync::http::HttpEndpoint;
use lightning_block_sync::init::validate_best_block_header;
use lightning_block_sync::poll::{ChainPoller, Validate};
use lightning_block_sync::rpc::{RpcClient, RpcError};
use lightning_block_sync::{BlockData, BlockSource, SpvClient, UnboundedCache};
use serde_json::{Value, json};
use simnet::{INITIAL_BLOCKS, Simnet, SimnetConfig};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";

fn config(data_dir: Option<std::path::PathBuf>) -> SimnetConfig {
    SimnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        rpc_user: USER.to_owned(),
        rpc_password: PASSWORD.to_owned().into(),
        block_interval: None,
        data_dir,
    }
}

fn client_for(url: &str, user: &str, password: &str) -> RpcClient {
    let address: std::net::SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    RpcClient::new(
        &credentials,
        HttpEndpoint::for_host(address.ip().to_string()).with_port(address.port()),
    )
}

async fn start() -> (Simnet, RpcClient) {
    let simnet = Simnet::start(config(None)).await.unwrap();
    let client = client_for(&simnet.rpc_url(), USER, PASSWORD);
    (simnet, client)
}

async fn call(client: &RpcClient, method: &str, params: &[Value]) -> Value {
    client
        .call_method::<Value>(method, params)
        .await
        .unwrap_or_else(|e| panic!("{method} failed: {e}"))
}

async fn call_err(client: &RpcClient, method: &str, params: &[Value]) -> RpcError {
    let err = client
        .call_method::<Value>(method, params)
        .await
        .expect_err("an RPC error");
    *err.into_inner()
        .expect("an RPC error")
        .downcast::<RpcError>()
        .expect("an RpcError")
}

/// Records what lightning-block-sync tells a chain listener.
#[derive(Default)]
struct Recorder(Mutex<Vec<Seen>>);

#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connected {
        height: u32,
        hash: BlockHash,
        txids: Vec<Txid>,
    },
    Disconnected(BestBlock),
}

impl Listen for Recorder {
    fn filtered_block_connected(&self, header: &Header, txdata: &TransactionData, height: u32) {
        self.0.lock().unwrap().push(Seen::Connected {
            height,
            hash: header.block_hash(),
            txids: txdata.iter().map(|(_, tx)| tx.compute_txid()).collect(),
        });
    }

    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.0.lock().unwrap().push(Seen::Disconnected(fork_point));
    }
}

impl Recorder {
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn hashes(value: &Value) -> Vec<BlockHash> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|h| BlockHash::from_str(h.as_str().unwrap()).unwrap())
        .collect()
}

/// A payment from the wallet to `address` built as ldk-sample funds a
/// channel: createrawtransaction, fundrawtransaction, signrawtransactionwithwallet.
async fn funded_and_signed(client: &RpcClient, address: &str, btc: f64) -> Transaction {
    let raw = call(
        client,
        "createrawtransaction",
        &[json!([]), json!([{ address: btc }])],
    )
    .await;
    let funded = call(
        client,
        "fundrawtransaction",
        &[raw, json!({ "fee_rate": 2.0, "replaceable": false })],
    )
    .await;
    // ldk-sample's FundedTx: changepos as i64, hex as str; fee in BTC.
    assert!(funded["changepos"].as_i64().is_some(), "{funded}");
    assert!(funded["fee"].as_f64().unwrap() > 0.0, "{funded}");
    let signed = call(
        client,
        "signrawtransactionwithwallet",
        &[funded["hex"].clone()],
    )
    .await;
    assert_eq!(signed["complete"].as_bool(), Some(true), "{signed}");
    // lightning-block-sync's own conversion of a signing result.
    client
        .call_method::<Transaction>("signrawtransactionwithwallet", &[funded["hex"].clone()])
        .await
        .unwrap()
}

#[tokio::test]
async fn lightning_block_sync_validates_the_blocks_and_sees_a_reorg_as_disconnect_then_connects() {
    let (simnet, client) = start().await;
    let (best, height) = client.get_best_block().await.unwrap();
    assert_eq!((best, height), (simnet.tip(), Some(INITIAL_BLOCKS)));

    // Header and block of the tip pass lightning-block-sync's checks.
    let tip = validate_best_block_header(&client).await.unwrap();
    assert_eq!(tip.height, INITIAL_BLOCKS);
    let block = client.get_block(&best).await.unwrap();
    assert!(matches!(block, BlockData::FullBlock(_)));
    block.validate(best).unwrap();

    let recorder = Recorder::default();
    let mut cache = UnboundedCache::new();
    let poller = ChainPoller::new(&client, Network::Regtest);
    let mut spv = SpvClient::new(tip, poller, &mut cache, &recorder);

    // Blocks mined over RPC, one of them with a segwit spend in it.
    let other = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    let payment = funded_and_signed(&client, other, 1.5).await;
    let txid: Txid = client
        .call_method(
            "sendrawtransaction",
            &[json!(bitcoin::consensus::encode::serialize_hex(&payment))],
        )
        .await
        .unwrap();
    let mined = hashes(&call(&client, "generatetoaddress", &[json!(3), json!(other)]).await);
    let (_, connected) = spv.poll_best_tip().await.unwrap();
    assert!(connected);
    let seen = recorder.take();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (i, event) in seen.iter().enumerate() {
        let Seen::Connected {
            height,
            hash,
            txids,
        } = event
        else {
            panic!("{event:?}")
        };
        assert_eq!((*height, *hash), (INITIAL_BLOCKS + 1 + i as u32, mined[i]));
        assert_eq!(
            txids.contains(&txid),
            i == 0,
            "the payment is in the first block only"
        );
    }

    // A one-block reorg with bitcoind's own call, then two new blocks.
    let old_tip = mined[2];
    assert_eq!(
        call(&client, "invalidateblock", &[json!(old_tip.to_string())]).await,
        Value::Null
    );
    assert_eq!(simnet.height(), INITIAL_BLOCKS + 2);
    let replacement = hashes(&call(&client, "generatetoaddress", &[json!(2), json!(other)]).await);
    assert!(!replacement.contains(&old_tip));
    let (_, connected) = spv.poll_best_tip().await.unwrap();
    assert!(connected);
    let seen = recorder.take();
    assert_eq!(
        seen,
        vec![
            Seen::Disconnected(BestBlock::new(mined[1], INITIAL_BLOCKS + 2)),
            Seen::Connected {
                height: INITIAL_BLOCKS + 3,
                hash: replacement[0],
                txids: seen_txids(&seen, 1),
            },
            Seen::Connected {
                height: INITIAL_BLOCKS + 4,
                hash: replacement[1],
                txids: seen_txids(&seen, 2),
            },
        ]
    );
    // The dropped block is still served by hash, as bitcoind does.
    let stale = call(&client, "getblockheader", &[json!(old_tip.to_string())]).await;
    assert_eq!(stale["confirmations"], json!(-1));
    simnet.shutdown().await;
}

fn seen_txids(seen: &[Seen], i: usize) -> Vec<Txid> {
    match seen.get(i) {
        Some(Seen::Connected { txids, .. }) => txids.clone(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn a_wallet_funded_transaction_goes_through_the_mempool_into_a_block() {
    let (simnet, client) = start().await;
    let address = call(&client, "getnewaddress", &[json!("LDK output address")]).await;
    let address = Address::from_str(address.as_str().unwrap())
        .unwrap()
        .require_network(Network::Regtest)
        .unwrap();
    assert_eq!(address, simnet.wallet_address());
    let info = call(&client, "getaddressinfo", &[json!(address.to_string())]).await;
    assert_eq!(info["ismine"], json!(true));
    let pubkey = bitcoin::PublicKey::from_str(info["pubkey"].as_str().unwrap()).unwrap();
    assert_eq!(
        Address::p2wpkh(&pubkey.try_into().unwrap(), bitcoin::KnownHrp::Regtest),
        address,
        "the key behind the address"
    );
    let other = call(
        &client,
        "getaddressinfo",
        &[json!("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")],
    )
    .await;
    assert_eq!(other["ismine"], json!(false));
    assert!(other.get("pubkey").is_none());
    let balance_before =
        Amount::from_btc(call(&client, "getbalance", &[]).await.as_f64().unwrap()).unwrap();
    assert_eq!(
        balance_before,
        Amount::from_btc(50.0 * f64::from(INITIAL_BLOCKS - 100)).unwrap(),
        "the mature coinbases of {INITIAL_BLOCKS}"
    );

    let tx = funded_and_signed(
        &client,
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        0.25,
    )
    .await;
    let hex = bitcoin::consensus::encode::serialize_hex(&tx);
    let txid: Txid = client
        .call_method("sendrawtransaction", &[json!(hex)])
        .await
        .unwrap();
    assert_eq!(txid, tx.compute_txid());
    // Sending it again is accepted, as bitcoind does for a known transaction.
    let again: Txid = client
        .call_method("sendrawtransaction", &[json!(hex)])
        .await
        .unwrap();
    assert_eq!(again, txid);
    assert_eq!(
        call(&client, "getrawmempool", &[]).await,
        json!([txid.to_string()])
    );
    assert_eq!(simnet.mempool(), vec![tx.clone()]);
    let out = call(
        &client,
        "gettxout",
        &[json!(txid.to_string()), json!(0), json!(true)],
    )
    .await;
    assert_eq!(out["confirmations"], json!(0));
    assert_eq!(out["value"].as_f64(), Some(0.25));
    assert_eq!(
        call(
            &client,
            "gettxout",
            &[json!(txid.to_string()), json!(0), json!(false)]
        )
        .await,
        Value::Null,
        "not confirmed yet"
    );
    let fetched: Transaction = client
        .call_method("getrawtransaction", &[json!(txid.to_string())])
        .await
        .unwrap();
    assert_eq!(fetched, tx);

    let block = simnet.mine_blocks(1).unwrap()[0];
    assert!(simnet.mempool().is_empty());
    let verbose = call(&client, "getblock", &[json!(block.to_string()), json!(1)]).await;
    assert!(
        verbose["tx"]
            .as_array()
            .unwrap()
            .contains(&json!(txid.to_string()))
    );
    let out = call(
        &client,
        "gettxout",
        &[json!(txid.to_string()), json!(0), json!(false)],
    )
    .await;
    assert_eq!(out["confirmations"], json!(1));
    assert_eq!(
        out["scriptPubKey"]["address"],
        json!("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080")
    );
    let verbose = call(
        &client,
        "getrawtransaction",
        &[json!(txid.to_string()), json!(true)],
    )
    .await;
    assert_eq!(verbose["blockhash"], json!(block.to_string()));
    assert_eq!(verbose["confirmations"], json!(1));

    // Once confirmed, bitcoind reports it as already in the chain.
    let err = call_err(&client, "sendrawtransaction", &[json!(hex)]).await;
    assert_eq!(err.code, -27, "{}", err.message);

    // The wallet paid 0.25 BTC plus the fee, and got 50 BTC more matured.
    let balance_after =
        Amount::from_btc(call(&client, "getbalance", &[]).await.as_f64().unwrap()).unwrap();
    let fee = Amount::from_btc(50.0).unwrap() - tx.output.iter().map(|o| o.value).sum::<Amount>();
    assert_eq!(
        balance_after,
        balance_before + Amount::from_btc(50.0).unwrap() - Amount::from_btc(0.25).unwrap() - fee
    );
    simnet.shutdown().await;
}

#[tokio::test]
async fn a_double_spend_is_rejected_in_the_mempool_and_after_confirmation() {
    let (simnet, client) = start().await;
    let unspent = call(&client, "listunspent", &[]).await;
    let coin = &unspent.as_array().unwrap()[0];
    assert_eq!(coin["amount"].as_f64(), Some(50.0));
    let input = json!([{ "txid": coin["txid"], "vout": coin["vout"] }]);
    let mut signed = Vec::new();
    for pay in [49.9, 49.8] {
        let raw = call(
            &client,
            "createrawtransaction",
            &[
                input.clone(),
                json!({ "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080": pay }),
            ],
        )
        .await;
        let result = call(&client, "signrawtransactionwithwallet", &[raw]).await;
        assert_eq!(result["complete"], json!(true));
        signed.push(result["hex"].clone());
    }
    call(&client, "sendrawtransaction", &[signed[0].clone()]).await;
    let err = call_err(&client, "sendrawtransaction", &[signed[1].clone()]).await;
    assert_eq!(
        (err.code, err.message.as_str()),
        (-26, "txn-mempool-conflict")
    );
    simnet.mine_blocks(1).unwrap();
    let err = call_err(&client, "sendrawtransaction", &[signed[1].clone()]).await;
    assert_eq!(
        (err.code, err.message.as_str()),
        (-25, "bad-txns-inputs-missingorspent")
    );
    // An unsigned spend is refused too.
    let unspent = call(&client, "listunspent", &[]).await;
    let coin = &unspent.as_array().unwrap()[0];
    let raw = call(
        &client,
        "createrawtransaction",
        &[
            json!([{ "txid": coin["txid"], "vout": coin["vout"] }]),
            json!({ "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080": 1 }),
        ],
    )
    .await;
    let err = call_err(&client, "sendrawtransaction", &[raw]).await;
    assert_eq!(err.code, -26);
    assert!(
        err.message
            .starts_with("mandatory-script-verify-flag-failed"),
        "{}",
        err.message
    );
    simnet.shutdown().await;
}

#[tokio::test]
async fn responses_parse_the_way_ldk_sample_reads_them() {
    let (simnet, client) = start().await;
    let info = call(&client, "getblockchaininfo", &[]).await;
    assert_eq!(info["chain"].as_str(), Some("regtest"));
    assert_eq!(info["blocks"].as_u64(), Some(u64::from(INITIAL_BLOCKS)));
    assert_eq!(info["initialblockdownload"], json!(false));
    assert_eq!(
        BlockHash::from_str(info["bestblockhash"].as_str().unwrap()).unwrap(),
        simnet.tip()
    );
    assert_eq!(info["chainwork"].as_str().unwrap().len(), 64);

    for (target, mode) in [
        (144, "ECONOMICAL"),
        (18, "ECONOMICAL"),
        (6, "CONSERVATIVE"),
        (2, "CONSERVATIVE"),
    ] {
        let fee = call(&client, "estimatesmartfee", &[json!(target), json!(mode)]).await;
        assert!(fee["errors"].is_null(), "{fee}");
        // ldk-sample: BTC/kvB * 1e8 / 4 = sat per 1000 weight units.
        let sat_per_kw = (fee["feerate"].as_f64().unwrap() * 100_000_000.0 / 4.0).round() as u32;
        assert_eq!(sat_per_kw, 500);
    }
    let err = call_err(&client, "estimatesmartfee", &[json!(0)]).await;
    assert_eq!(err.code, -8);

    let mempool = call(&client, "getmempoolinfo", &[]).await;
    assert_eq!(mempool["maxmempool"].as_u64(), Some(300_000_000));
    assert_eq!(
        (mempool["mempoolminfee"].as_f64().unwrap() * 100_000_000.0 / 4.0).round() as u32,
        250
    );
    let network = call(&client, "getnetworkinfo", &[]).await;
    assert_eq!(network["version"], json!(270000));

    // Header JSON: bits as hex, chainwork 64 hex digits, genesis without a previous hash.
    let genesis = call(&client, "getblockhash", &[json!(0)]).await;
    let header = call(&client, "getblockheader", std::slice::from_ref(&genesis)).await;
    assert_eq!(header["bits"], json!("207fffff"));
    assert_eq!(header["chainwork"], json!(format!("{:064x}", 2)));
    assert!(header.get("previousblockhash").is_none());
    assert_eq!(header["confirmations"], json!(INITIAL_BLOCKS + 1));
    let raw = call(&client, "getblockheader", &[genesis.clone(), json!(false)]).await;
    assert_eq!(raw.as_str().unwrap().len(), 160);

    let unspent = call(&client, "listunspent", &[]).await;
    for utxo in unspent.as_array().unwrap() {
        Txid::from_str(utxo["txid"].as_str().unwrap()).unwrap();
        utxo["vout"].as_u64().unwrap();
        Amount::from_btc(utxo["amount"].as_f64().unwrap()).unwrap();
        Address::from_str(utxo["address"].as_str().unwrap())
            .unwrap()
            .require_network(Network::Regtest)
            .unwrap();
    }
    assert_eq!(
        unspent.as_array().unwrap().len(),
        (INITIAL_BLOCKS - 100) as usize,
        "the coinbases 100 blocks deep are mature"
    );
    simnet.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_bitcoind_errors_and_bad_credentials_get_401() {
    let (simnet, client) = start().await;
    let err = call_err(&client, "getblock", &[json!("00")]).await;
    assert_eq!(
        (err.code, err.message.as_str()),
        (-8, "blockhash must be of length 64 (not 2, for '00')")
    );
    let err = call_err(&client, "getblock", &[json!("11".repeat(32))]).await;
    assert_eq!((err.code, err.message.as_str()), (-5, "Block not found"));
    let err = call_err(&client, "getblockhash", &[json!(5000)]).await;
    assert_eq!(
        (err.code, err.message.as_str()),
        (-8, "Block height out of range")
    );
    let err = call_err(&client, "sendrawtransaction", &[json!("zz")]).await;
    assert_eq!(err.code, -22);
    let err = call_err(&client, "getrawtransaction", &[json!("22".repeat(32))]).await;
    assert_eq!(err.code, -5);
    let err = call_err(
        &client,
        "generatetoaddress",
        &[
            json!(1),
            json!("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ],
    )
    .await;
    assert_eq!(
        (err.code, err.message.as_str()),
        (-5, "Error: Invalid address")
    );

    // Absurd amounts and rates are errors, not crashes.
    let raw = call(
        &client,
        "createrawtransaction",
        &[
            json!([]),
            json!({ "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080": 1 }),
        ],
    )
    .await;
    let err = call_err(
        &client,
        "fundrawtransaction",
        &[raw.clone(), json!({ "fee_rate": 1e15 })],
    )
    .await;
    assert_eq!(err.code, -4, "{}", err.message);
    let err = call_err(
        &client,
        "fundrawtransaction",
        &[raw, json!({ "fee_rate": 0.5 })],
    )
    .await;
    assert_eq!(err.code, -4, "{}", err.message);
    let huge = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![],
        output: vec![
            bitcoin::TxOut {
                value: Amount::from_sat(u64::MAX),
                script_pubkey: simnet.wallet_address().script_pubkey()
            };
            2
        ],
    };
    let hex = json!(bitcoin::consensus::encode::serialize_hex(&huge));
    let err = call_err(&client, "fundrawtransaction", std::slice::from_ref(&hex)).await;
    assert_eq!(
        (err.code, err.message.as_str()),
        (-3, "Amount out of range")
    );
    let err = call_err(
        &client,
        "generatetoaddress",
        &[json!(u32::MAX), json!(simnet.wallet_address().to_string())],
    )
    .await;
    assert_eq!(err.code, -8);
    assert_eq!(simnet.height(), INITIAL_BLOCKS);

    let http = reqwest::Client::new();
    let unknown = http
        .post(simnet.rpc_url())
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({ "method": "nosuchmethod", "params": [], "id": "7" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "result": null, "error": { "code": -32601, "message": "Method not found" }, "id": "7" })
    );

    let ok = http
        .post(simnet.rpc_url())
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!({ "jsonrpc": "1.0", "method": "getblockcount", "params": [], "id": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({ "result": INITIAL_BLOCKS, "error": null, "id": 1 })
    );

    for auth in [Some((USER, "wrong")), Some(("bob", PASSWORD)), None] {
        let mut request = http
            .post(simnet.rpc_url())
            .json(&json!({ "method": "getblockcount", "params": [], "id": 1 }));
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        assert_eq!(request.send().await.unwrap().status(), 401, "{auth:?}");
    }
    let wrong = client_for(&simnet.rpc_url(), USER, "wrong");
    assert!(
        wrong
            .call_method::<Value>("getblockcount", &[])
            .await
            .is_err()
    );
    simnet.shutdown().await;
}

#[tokio::test]
async fn a_restart_from_the_data_dir_keeps_the_chain_including_a_reorg() {
    let dir = tempfile::tempdir().unwrap();
    let simnet = Simnet::start(config(Some(dir.path().to_path_buf())))
        .await
        .unwrap();
    let address = simnet.wallet_address();
    simnet.mine_blocks(3).unwrap();
    let dropped = simnet.invalidate_tip().unwrap();
    simnet.mine_blocks(1).unwrap();
    let (tip, height) = (simnet.tip(), simnet.height());
    assert_eq!(height, INITIAL_BLOCKS + 3);
    assert_ne!(tip, dropped);
    // A second simnet on the same folder would corrupt it: refused.
    let err = Simnet::start(config(Some(dir.path().to_path_buf())))
        .await
        .err()
        .expect("the folder is in use");
    assert!(err.to_string().contains("in use"), "{err}");
    simnet.shutdown().await;

    let again = Simnet::start(config(Some(dir.path().to_path_buf())))
        .await
        .unwrap();
    assert_eq!((again.tip(), again.height()), (tip, height));
    assert_eq!(again.wallet_address(), address, "same wallet seed");
    let client = client_for(&again.rpc_url(), USER, PASSWORD);
    let stale = call(&client, "getblockheader", &[json!(dropped.to_string())]).await;
    assert_eq!(stale["confirmations"], json!(-1));
    assert_eq!(stale["height"], json!(height));
    // It keeps going from there.
    again.mine_blocks(1).unwrap();
    assert_eq!(again.height(), height + 1);
    again.shutdown().await;
}

#[tokio::test]
async fn blocks_are_mined_on_the_configured_interval() {
    let mut cfg = config(None);
    cfg.block_interval = Some(Duration::from_millis(20));
    let simnet = Simnet::start(cfg).await.unwrap();
    let mut height = simnet.height();
    for _ in 0..500 {
        height = simnet.height();
        if height > INITIAL_BLOCKS + 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(height > INITIAL_BLOCKS + 1, "still at {height}");
    simnet.shutdown().await;
}

/// The `simnet` binary: another process answers over HTTP and mines on request.
#[tokio::test]
async fn the_cli_simnet_serves_rpc_and_mines_with_generatetoaddress() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_simnet"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PUSHBILL") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .current_dir(dir.path())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--rpc-user",
            USER,
            "--rpc-password",
            PASSWORD,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    });
    let line = tokio::time::timeout(Duration::from_secs(60), line)
        .await
        .expect("started")
        .unwrap();
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    let client = client_for(&url, USER, PASSWORD);
    let info = call(&client, "getblockchaininfo", &[]).await;
    assert_eq!(info["blocks"], json!(INITIAL_BLOCKS));
    let mined = call(
        &client,
        "generatetoaddress",
        &[
            json!(5),
            json!("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"),
        ],
    )
    .await;
    assert_eq!(mined.as_array().unwrap().len(), 5);
    let info = call(&client, "getblockchaininfo", &[]).await;
    assert_eq!(info["blocks"], json!(INITIAL_BLOCKS + 5));
    assert_eq!(info["bestblockhash"], mined[4]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        dir.path().join("data/simnet/blocks.dat").exists(),
        "kept on disk by default"
    );
}

#[tokio::test]
async fn a_dropped_blocks_transactions_return_to_the_mempool_and_confirm_again() {
    let (simnet, client) = start().await;
    let txid = call(
        &client,
        "sendtoaddress",
        &[
            json!("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"),
            json!(0.1),
        ],
    )
    .await;
    let txid = Txid::from_str(txid.as_str().unwrap()).unwrap();
    let mined = simnet.mine_blocks(1).unwrap()[0];
    assert!(simnet.mempool().is_empty());
    assert_eq!(simnet.invalidate_tip().unwrap(), mined);
    assert_eq!(simnet.height(), INITIAL_BLOCKS);
    let back: Vec<Txid> = simnet.mempool().iter().map(|t| t.compute_txid()).collect();
    assert_eq!(back, vec![txid]);
    let replacement = simnet.mine_blocks(1).unwrap()[0];
    assert_ne!(replacement, mined);
    let verbose = call(
        &client,
        "getrawtransaction",
        &[json!(txid.to_string()), json!(true)],
    )
    .await;
    assert_eq!(verbose["blockhash"], json!(replacement.to_string()));
    // bitcoind's invalidateblock on a deeper block drops everything above it.
    let tip = simnet.height();
    let deeper = call(&client, "getblockhash", &[json!(tip - 2)]).await;
    assert_eq!(
        call(&client, "invalidateblock", std::slice::from_ref(&deeper)).await,
        Value::Null
    );
    assert_eq!(simnet.height(), tip - 3);
    let header = call(&client, "getblockheader", &[deeper]).await;
    assert_eq!(header["confirmations"], json!(-1));
    assert!(header.get("nextblockhash").is_none());
    simnet.mine_blocks(3).unwrap();
    assert_eq!(simnet.height(), tip);
    // The stale block is still there by hash, the active chain moved on.
    let stale = call(&client, "getblock", &[json!(mined.to_string()), json!(2)]).await;
    assert_eq!(stale["confirmations"], json!(-1));
    assert_eq!(stale["tx"][1]["txid"], json!(txid.to_string()));
    assert_eq!(stale["tx"][1]["vout"][0]["value"].as_f64(), Some(0.1));
    simnet.shutdown().await;
}

#[tokio::test]
async fn batches_and_packages_are_answered_per_entry() {
    let (simnet, client) = start().await;
    let http = reqwest::Client::new();
    let response = http
        .post(simnet.rpc_url())
        .basic_auth(USER, Some(PASSWORD))
        .json(&json!([
            { "method": "getblockcount", "params": [], "id": 1 },
            { "method": "getblockhash", "params": [-1], "id": 2 },
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body[0],
        json!({ "result": INITIAL_BLOCKS, "error": null, "id": 1 })
    );
    assert_eq!(body[1]["error"]["code"], json!(-8));
    assert_eq!(body[1]["id"], json!(2));

    // A parent and its child, submitted together.
    let to = simnet.wallet_address().to_string();
    let parent = funded_and_signed(&client, &to, 10.0).await;
    let raw = call(
        &client,
        "createrawtransaction",
        &[
            json!([{ "txid": parent.compute_txid().to_string(), "vout": 0 }]),
            json!({ "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080": 9.99 }),
        ],
    )
    .await;
    // Like bitcoind, the parent's outputs are unknown until it is sent...
    let unknown = call(
        &client,
        "signrawtransactionwithwallet",
        std::slice::from_ref(&raw),
    )
    .await;
    assert_eq!(unknown["complete"], json!(false));
    assert_eq!(
        unknown["errors"][0]["error"],
        json!("Input not found or already spent")
    );
    // ...unless given as prevtxs.
    let prevtxs = json!([{
        "txid": parent.compute_txid().to_string(),
        "vout": 0,
        "scriptPubKey": parent.output[0].script_pubkey.to_hex_string(),
        "amount": parent.output[0].value.to_btc(),
    }]);
    let child = call(&client, "signrawtransactionwithwallet", &[raw, prevtxs]).await;
    assert_eq!(child["complete"], json!(true), "{child}");
    let hexes = json!([
        bitcoin::consensus::encode::serialize_hex(&parent),
        child["hex"]
    ]);
    let package = call(&client, "submitpackage", &[hexes]).await;
    assert_eq!(package["package_msg"], json!("success"), "{package}");
    assert_eq!(package["tx-results"].as_object().unwrap().len(), 2);
    assert_eq!(simnet.mempool().len(), 2);
    let mined = simnet.mine_blocks(1).unwrap()[0];
    let block = call(&client, "getblock", &[json!(mined.to_string())]).await;
    assert_eq!(block["nTx"], json!(3));
    simnet.shutdown().await;
}

/// Two channels funded one after the other, before either is broadcast:
/// with `lockUnspents` (as ln-node asks) the second takes other coins, so
/// both are accepted; without it both take the same coin, as bitcoind's.
#[tokio::test]
async fn locked_unspents_keep_two_fundings_apart_until_broadcast() {
    let (_simnet, client) = start().await;
    let address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";
    let fund = |lock: bool| {
        let client = &client;
        async move {
            let raw = call(
                client,
                "createrawtransaction",
                &[json!([]), json!({ address: 1 })],
            )
            .await;
            let funded = call(
                client,
                "fundrawtransaction",
                &[raw, json!({ "replaceable": false, "lockUnspents": lock })],
            )
            .await;
            let tx = call(client, "decoderawtransaction", &[funded["hex"].clone()]).await;
            let spent: Vec<(String, u64)> = tx["vin"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| {
                    (
                        i["txid"].as_str().unwrap().to_owned(),
                        i["vout"].as_u64().unwrap(),
                    )
                })
                .collect();
            (funded["hex"].clone(), spent)
        }
    };
    let (_, a) = fund(false).await;
    let (_, b) = fund(false).await;
    assert_eq!(a, b, "unlocked: the same coin twice");
    let (first, a) = fund(true).await;
    let (second, b) = fund(true).await;
    assert!(a.iter().all(|c| !b.contains(c)), "locked: {a:?} and {b:?}");
    for hex in [first, second] {
        let signed = call(&client, "signrawtransactionwithwallet", &[hex]).await;
        call(&client, "sendrawtransaction", &[signed["hex"].clone()]).await;
    }
    assert_eq!(
        call(&client, "getrawmempool", &[])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
