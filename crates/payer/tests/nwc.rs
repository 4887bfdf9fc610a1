//! The payer as a NIP-47 wallet service, with real parts on loopback: an
//! in-process nostr relay, the payer's LDK node with a channel to another
//! real LDK node (the payee, which issues the invoices) on the chain
//! simulator, and the `nwc` crate's client built from the URI the payer
//! hands out.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitcoin::hashes::{Hash, sha256};
use lightning::types::payment::PaymentHash;
use ln_node::bitcoind::RpcAuth;
use ln_node::{Node, NodeConfig, PaymentSink, Verdict};
use nostr_sdk::local_relay::LocalRelay;
use nwc::prelude::*;
use payer::state::{BudgetWindow, NwcStatus, Status};
use payer::{NwcSpec, Payer, PayerOptions};
use secrecy::SecretString;
use simnet::{Simnet, SimnetConfig};

const RPC_USER: &str = "test";
const RPC_PASSWORD: &str = "test-password";

async fn simnet() -> Simnet {
    Simnet::start(SimnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        rpc_user: RPC_USER.into(),
        rpc_password: SecretString::from(RPC_PASSWORD),
        block_interval: None,
        data_dir: None,
    })
    .await
    .expect("simnet")
}

fn node_config(chain: &Simnet, dir: &Path) -> NodeConfig {
    NodeConfig {
        data_dir: dir.to_owned(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        network: bitcoin::Network::Regtest,
        bitcoind: RpcAuth {
            url: chain.rpc_url(),
            user: RPC_USER.into(),
            password: RPC_PASSWORD.into(),
        },
        chain_poll_interval: Duration::from_millis(50),
        reconnect_interval: Duration::from_millis(200),
        minimum_depth: 3,
    }
}

/// Polls `check` until it holds. The deadline only turns a hang into a
/// failure naming `what`; it is no performance assertion.
async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..2400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// What the payer and its node log (every level), from here on.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        tracing_subscriber::fmt()
            .with_env_filter("payer=trace,ln_node=trace")
            .with_writer(move || LogWriter(Arc::clone(&sink)))
            .with_ansi(false)
            .init();
        logs
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The payee: claims every payment and remembers each claim.
#[derive(Default)]
struct Payee {
    claimed: Mutex<Vec<String>>,
}

impl Payee {
    fn times_paid(&self, hash: &str) -> usize {
        self.claimed
            .lock()
            .unwrap()
            .iter()
            .filter(|h| *h == hash)
            .count()
    }
}

#[async_trait::async_trait]
impl PaymentSink for Payee {
    async fn may_claim(&self, _: &PaymentHash, _: u64) -> anyhow::Result<Verdict> {
        Ok(Verdict::Claim)
    }
    async fn claimed(&self, hash: &PaymentHash, _: u64) -> anyhow::Result<()> {
        self.claimed.lock().unwrap().push(hex::encode(hash.0));
        Ok(())
    }
}

fn fast_relay() -> RelayOptions {
    RelayOptions::new()
        .retry_interval(Duration::from_secs(1))
        .adjust_retry_interval(false)
}

/// A relay on loopback, on `port` when given (once the stopped relay's
/// listener there has closed).
async fn relay_on(port: Option<u16>) -> LocalRelay {
    for _ in 0..200 {
        let mut builder = LocalRelay::builder().addr(IpAddr::V4(Ipv4Addr::LOCALHOST));
        if let Some(port) = port {
            builder = builder.port(port);
        }
        let relay = builder.build();
        match relay.run().await {
            Ok(()) => return relay,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    panic!("no relay could listen on port {port:?}");
}

/// A client of `uri` that answers requests within `timeout`.
fn client(uri: &NostrWalletConnectUri, timeout: Duration) -> NostrWalletConnect {
    NostrWalletConnect::builder(uri.clone())
        .timeout(timeout)
        .relay(fast_relay())
        .build()
}

/// Waits until the wallet service answers `nwc` (it subscribes to the relay
/// on its own time; a request sent before is not kept by the relay).
async fn until_served(what: &str, nwc: &NostrWalletConnect) -> GetInfoResponse {
    for _ in 0..150 {
        match nwc.get_info().timeout(Duration::from_secs(2)).await {
            Ok(info) => return info,
            // Not connected yet (or not answered): again, a little later.
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    panic!("the wallet service never answered get_info ({what})");
}

fn invoice(payee: &Node, amount_msat: u64) -> (String, String) {
    let new = payee
        .create_invoice(amount_msat, "nwc test", Duration::from_secs(3600), None)
        .expect("invoice");
    (new.bolt11, new.payment_hash)
}

fn preimage_hash(preimage: &str) -> String {
    let bytes = hex::decode(preimage).expect("hex preimage");
    hex::encode(sha256::Hash::hash(&bytes).to_byte_array())
}

fn payment_status(payer: &Payer, hash: &str) -> Option<Status> {
    payer.state().payments.get(hash).map(|p| p.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payer_pays_nip47_requests_inside_the_budget_once_per_hash() {
    let logs = logs();
    let chain = simnet().await;
    let (payee_dir, payer_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let payee_sink = Arc::new(Payee::default());
    let payee = Node::start(node_config(&chain, payee_dir.path()), payee_sink.clone())
        .await
        .expect("payee node");
    let options = PayerOptions {
        nwc_relay_retry: Some(Duration::from_secs(1)),
        ..PayerOptions::default()
    };
    let payer = Payer::start_with(
        payer_dir.path().to_owned(),
        node_config(&chain, payer_dir.path()),
        options,
    )
    .await
    .expect("payer");
    let node = payer.node();
    node.connect_peer(payee.node_id(), payee.listen_addr())
        .await
        .expect("connect");
    node.open_channel(payee.node_id(), 1_000_000, 0)
        .expect("open channel");
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    let payee_id = payee.node_id().to_string();
    wait_for("a usable channel", || async {
        node.list_channels()
            .iter()
            .any(|c| c.is_usable && c.counterparty_node_id == payee_id)
    })
    .await;

    let relay = relay_on(None).await;
    let relay_url = relay.url().await;
    let port = relay_url
        .as_str()
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();

    // A connection of 50 sat a month; the URI is handed out once.
    let uri = payer
        .nwc_connect(NwcSpec {
            name: Some("Bobflix".into()),
            budget_msat: 50_000,
            window: BudgetWindow::Monthly,
            relays: vec![relay_url.to_string()],
        })
        .await
        .expect("connect");
    let uri = NostrWalletConnectUri::parse(&uri).expect("a NWC URI");
    let state = payer.state();
    let connection = &state.nwc_connections[0];
    assert_eq!(
        connection.client_pubkey,
        Keys::new(uri.secret.clone()).public_key().to_hex()
    );
    assert_eq!(connection.wallet_pubkey, uri.public_key.to_hex());
    let on_disk = std::fs::read_to_string(payer_dir.path().join("state.json")).unwrap();
    assert!(
        !on_disk.contains(&uri.secret.to_secret_hex()),
        "the client's secret is not kept"
    );
    let id = connection.id.clone();

    let mut preimages = Vec::new();
    let nwc = client(&uri, Duration::from_secs(30));
    let info = until_served("first", &nwc).await;
    assert!(info.methods.contains(&Method::PayInvoice), "{info:?}");
    assert_eq!(info.network.as_deref(), Some("regtest"));
    assert_eq!(info.pubkey, Some(node.node_id().to_string()));
    assert_eq!(nwc.get_balance().await.expect("balance").balance, 50_000);

    // Paid, and the preimage is the invoice's.
    let (bolt11, hash) = invoice(&payee, 20_000);
    let paid = nwc
        .pay_invoice(PayInvoiceRequest::new(bolt11.clone()))
        .await
        .expect("paid");
    assert_eq!(preimage_hash(&paid.preimage), hash);
    preimages.push(paid.preimage.clone());
    assert_eq!(payment_status(&payer, &hash), Some(Status::Paid));
    assert_eq!(payee_sink.times_paid(&hash), 1);

    // The same invoice again: the same preimage, not paid again.
    let again = nwc
        .pay_invoice(PayInvoiceRequest::new(bolt11.clone()))
        .await
        .expect("answered");
    assert_eq!(again.preimage, paid.preimage);
    assert_eq!(payee_sink.times_paid(&hash), 1);
    assert_eq!(nwc.get_balance().await.expect("balance").balance, 30_000);

    // Over what is left of the budget.
    let (over, over_hash) = invoice(&payee, 30_001);
    let err = nwc
        .pay_invoice(PayInvoiceRequest::new(over.clone()))
        .await
        .expect_err("over the budget");
    assert!(err.to_string().ends_with("[QuotaExceeded]"), "{err}");
    assert_eq!(payment_status(&payer, &over_hash), None);
    // A lower budget refuses what fitted before; a higher one pays it.
    let (fits, fits_hash) = invoice(&payee, 10_000);
    payer.nwc_set_budget(&id, 25_000, None).unwrap();
    let err = nwc
        .pay_invoice(PayInvoiceRequest::new(fits.clone()))
        .await
        .expect_err("over the lowered budget");
    assert!(err.to_string().ends_with("[QuotaExceeded]"), "{err}");
    payer.nwc_set_budget(&id, 100_000, None).unwrap();
    let paid = nwc
        .pay_invoice(PayInvoiceRequest::new(fits))
        .await
        .expect("paid");
    assert_eq!(preimage_hash(&paid.preimage), fits_hash);
    preimages.push(paid.preimage.clone());

    // NIP-04 works too.
    let nip04 = NostrWalletConnect::builder(uri.clone())
        .timeout(Duration::from_secs(30))
        .relay(fast_relay())
        .force_nip04()
        .build();
    assert_eq!(nip04.get_balance().await.expect("balance").balance, 70_000);

    // Someone who knows the wallet's key but not the secret pays nothing.
    let stranger = NostrWalletConnectUri::new(
        uri.public_key,
        uri.relays.clone(),
        Keys::generate().secret_key().clone(),
        None,
    );
    let stranger = client(&stranger, Duration::from_secs(30));
    let (theirs, their_hash) = invoice(&payee, 1_000);
    let err = stranger
        .pay_invoice(PayInvoiceRequest::new(theirs))
        .await
        .expect_err("unauthorized");
    assert!(err.to_string().ends_with("[Unauthorized]"), "{err}");
    assert_eq!(payment_status(&payer, &their_hash), None);
    assert_eq!(payee_sink.times_paid(&their_hash), 0);

    // The relay goes down and comes back on the same port, empty: the
    // wallet service publishes its info event again and pays again.
    // (nostr-sdk 0.45's shutdown wakes only the tasks waiting at that
    // moment: a listener busy accepting misses it, so ask until it closes.)
    for _ in 0..100 {
        relay.shutdown();
        tokio::time::sleep(Duration::from_millis(20)).await;
        if tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
            .await
            .is_err()
        {
            break;
        }
    }
    drop(relay);
    let relay = relay_on(Some(port)).await;
    let watcher = Client::default();
    watcher
        .add_relay(relay_url.as_str())
        .retry_interval(Duration::from_secs(1))
        .adjust_retry_interval(false)
        .and_connect()
        .await
        .unwrap();
    let info_filter = Filter::new()
        .kind(Kind::WalletConnectInfo)
        .author(uri.public_key);
    wait_for("the info event on the restarted relay", || async {
        watcher
            .fetch_events(info_filter.clone())
            .timeout(Duration::from_secs(1))
            .await
            .is_ok_and(|events| {
                events
                    .iter()
                    .any(|e| e.content.split(' ').any(|m| m == "pay_invoice"))
            })
    })
    .await;
    until_served("relay restarted", &nwc).await;
    let (after, after_hash) = invoice(&payee, 5_000);
    let paid = nwc
        .pay_invoice(PayInvoiceRequest::new(after))
        .await
        .expect("paid after the restart");
    assert_eq!(preimage_hash(&paid.preimage), after_hash);
    preimages.push(paid.preimage.clone());
    assert_eq!(payee_sink.times_paid(&after_hash), 1);
    // And the first invoice, asked again over the new relay, is still paid once.
    let again = nwc
        .pay_invoice(PayInvoiceRequest::new(bolt11))
        .await
        .expect("answered");
    assert_eq!(preimage_hash(&again.preimage), hash);
    assert_eq!(payee_sink.times_paid(&hash), 1);

    // Revoked: nothing more is paid.
    payer.nwc_revoke(&id).unwrap();
    assert_eq!(payer.state().nwc_connections[0].status, NwcStatus::Revoked);
    let (late, late_hash) = invoice(&payee, 1_000);
    let err = nwc
        .pay_invoice(PayInvoiceRequest::new(late))
        .await
        .expect_err("revoked");
    assert!(err.to_string().ends_with("[Unauthorized]"), "{err}");
    assert_eq!(payment_status(&payer, &late_hash), None);

    // A connection made on the command line while the payer runs (a
    // queued command) is served at once, and again after a restart.
    let out = payer_command(
        payer_dir.path(),
        &[
            "nwc",
            "new",
            "--budget-sat",
            "10",
            "--relay",
            relay_url.as_str(),
        ],
    )
    .await
    .unwrap();
    let second = NostrWalletConnectUri::parse(out.trim()).expect("a NWC URI");
    let second = client(&second, Duration::from_secs(30));
    assert!(
        until_served("queued", &second)
            .await
            .methods
            .contains(&Method::GetBalance)
    );
    assert_eq!(second.get_balance().await.expect("balance").balance, 10_000);
    second.shutdown().await;
    payer.stop().await;
    let payer = Payer::start_with(
        payer_dir.path().to_owned(),
        node_config(&chain, payer_dir.path()),
        PayerOptions {
            nwc_relay_retry: Some(Duration::from_secs(1)),
            ..PayerOptions::default()
        },
    )
    .await
    .expect("payer again");
    let second = NostrWalletConnectUri::parse(out.trim()).unwrap();
    let second = client(&second, Duration::from_secs(30));
    until_served("payer restarted", &second).await;
    // The revoked one stays revoked.
    let err = nwc.get_info().await.expect_err("revoked");
    assert!(err.to_string().ends_with("[Unauthorized]"), "{err}");

    // No secret and no preimage in any log line of the payer.
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).to_ascii_lowercase();
    assert!(
        logged.contains("nip-47 pay_invoice"),
        "the logs are captured"
    );
    let wallet_secret = payer.state().nwc_connections[0].wallet_secret.clone();
    let second_secret = NostrWalletConnectUri::parse(out.trim()).unwrap().secret;
    for secret in [
        uri.secret.to_secret_hex(),
        second_secret.to_secret_hex(),
        wallet_secret,
    ]
    .iter()
    .chain(&preimages)
    {
        assert!(!logged.contains(secret.as_str()), "a secret was logged");
    }

    second.shutdown().await;
    nwc.shutdown().await;
    nip04.shutdown().await;
    stranger.shutdown().await;
    watcher.shutdown().await;
    payer.stop().await;
    payee.stop().await;
    relay.shutdown();
    chain.shutdown().await;
}

/// Runs `pushbill-payer --data-dir DIR ARGS` in this process; its output.
async fn payer_command(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: payer::cli::PayerArgs,
    }
    let dir_arg = dir.display().to_string();
    let mut argv = vec!["pushbill-payer", "--data-dir", dir_arg.as_str()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv)?;
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(Vec::new());
    payer::cli::run_with(cli.args, &mut input, &mut out).await?;
    Ok(String::from_utf8(out)?)
}

/// `nwc new` on a stopped payer prints the URI once; the payer keeps the
/// client's public key only, and the listing shows no secret.
#[tokio::test]
async fn the_command_line_makes_lists_and_revokes_connections() {
    let dir = tempfile::tempdir().unwrap();
    let out = payer_command(
        dir.path(),
        &[
            "nwc",
            "new",
            "--budget-sat",
            "2000",
            "--window",
            "weekly",
            "--relay",
            "ws://127.0.0.1:7777",
            "--name",
            "Bobflix",
        ],
    )
    .await
    .unwrap();
    let uri = NostrWalletConnectUri::parse(out.trim()).expect("the URI alone on stdout");
    let state = payer::read_state(dir.path()).unwrap();
    let c = &state.nwc_connections[0];
    assert_eq!(c.wallet_pubkey, uri.public_key.to_hex());
    assert_eq!(
        c.client_pubkey,
        Keys::new(uri.secret.clone()).public_key().to_hex()
    );
    assert_eq!((c.budget_msat, c.window), (2_000_000, BudgetWindow::Weekly));
    assert_eq!(c.relays, vec!["ws://127.0.0.1:7777".to_owned()]);
    let secret = uri.secret.to_secret_hex();
    let on_disk = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(!on_disk.contains(&secret));

    for json in [false, true] {
        let mut args = vec!["nwc", "list"];
        if json {
            args.insert(0, "--json");
        }
        let list = payer_command(dir.path(), &args).await.unwrap();
        assert!(list.contains(&c.id), "{list}");
        assert!(
            !list.contains(&secret) && !list.contains(&c.wallet_secret),
            "{list}"
        );
    }
    let revoked = payer_command(dir.path(), &["nwc", "revoke", &c.id])
        .await
        .unwrap();
    assert!(revoked.contains("revoked"), "{revoked}");
    let state = payer::read_state(dir.path()).unwrap();
    assert_eq!(state.nwc_connections[0].status, NwcStatus::Revoked);
    assert!(
        payer_command(dir.path(), &["nwc", "revoke", &c.id])
            .await
            .is_err()
    );
    assert!(
        payer_command(dir.path(), &["nwc", "new", "--budget-sat", "1"])
            .await
            .is_err(),
        "a relay is needed"
    );
}
