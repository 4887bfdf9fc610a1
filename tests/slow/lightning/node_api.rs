//! /v1/node and `pushbill node`: the operator drives the deployment's real
//! LDK node (started by the app's node role on a test-started chain
//! simulator) against a customer node over TCP on loopback.

use std::sync::Arc;

use ln_node::{Node, RefuseIncoming};
use pushbill::catalog;
use pushbill::config::{BitcoindSettings, Role};
use secrecy::SecretString;
use serde_json::{Value, json};
use simnet::Simnet;

use crate::support::app::{Api, Reply, TestApp, spawn_app, spawn_app_with};
use crate::support::ln::{RPC_PASSWORD, RPC_USER, node_config, simnet, wait_for};

/// The app with the web and node roles, its node on `chain`.
async fn spawn_app_with_node(chain: &Simnet, data_dir: &std::path::Path) -> TestApp {
    let rpc_url = chain.rpc_url();
    let data_dir = data_dir.to_owned();
    spawn_app_with(move |s| {
        s.app.roles = vec![Role::Web, Role::Node];
        s.bitcoind = Some(BitcoindSettings {
            rpc_url,
            rpc_user: RPC_USER.into(),
            rpc_password: SecretString::from(RPC_PASSWORD),
        });
        s.lightning.listen = "127.0.0.1:0".parse().unwrap();
        s.lightning.data_dir = data_dir;
        s.lightning.chain_poll_ms = 50;
        s.lightning.minimum_depth = 3;
    })
    .await
}

/// A customer's node, started directly on the same chain.
async fn customer_node(chain: &Simnet, dir: &std::path::Path) -> Arc<Node> {
    let loopback = "127.0.0.1:0".parse().unwrap();
    Node::start(node_config(chain, dir, loopback), Arc::new(RefuseIncoming))
        .await
        .expect("customer node")
}

/// A node operator merchant and a client with its key.
async fn operator(app: &TestApp) -> Api {
    let (merchant, key) = catalog::merchants::create_with_api_key(
        &app.db,
        app.now(),
        "Operator",
        "OPS",
        pushbill::auth::api_keys::Mode::Test,
        true,
    )
    .await
    .unwrap();
    assert!(merchant.node_operator);
    Api {
        address: app.address.clone(),
        http: app.http.clone(),
        merchant_id: merchant.id,
        key: key.secret,
    }
}

fn channels(r: &Reply) -> Vec<Value> {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "list");
    r.body["data"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_connects_opens_a_channel_and_closes_it_through_the_api() {
    let chain = simnet().await;
    let node_dir = tempfile::tempdir().unwrap();
    let customer_dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_node(&chain, node_dir.path()).await;
    let customer = customer_node(&chain, customer_dir.path()).await;
    let api = operator(&app).await;

    // The node at a glance, synced to the chain's tip.
    wait_for("the node at the chain's tip", || async {
        api.get("/v1/node").await.body["block_hash"] == chain.tip().to_string()
    })
    .await;
    let info = api.get("/v1/node").await;
    assert_eq!(info.status, 200, "{info:?}");
    assert_eq!(info.body["object"], "node");
    assert_eq!(info.body["network"], "regtest");
    // The sandbox's chain is regtest, and its objects are not live.
    assert_eq!(
        app.context.settings.app.network,
        pushbill::config::Network::Sandbox
    );
    assert_eq!(info.body["livemode"], false);
    assert_eq!(info.body["block_height"], chain.height());
    assert_eq!(info.body["num_peers"], 0);
    assert_eq!(info.body["num_channels"], 0);
    let node_id = info.body["node_id"].as_str().unwrap().to_owned();
    assert_eq!(node_id.len(), 66);
    let listen: std::net::SocketAddr = info.body["listen_addr"].as_str().unwrap().parse().unwrap();
    assert_ne!(listen.port(), 0, "the real port, not the configured 0");

    // Connect to the customer's node.
    let customer_id = customer.node_id().to_string();
    let r = api
        .post(
            "/v1/node/peers",
            json!({"node_id": customer_id, "address": customer.listen_addr().to_string()}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "node_peer");
    assert_eq!(r.body["livemode"], false);
    assert_eq!(r.body["node_id"], customer_id);
    wait_for("the customer to see the node", || async {
        customer.list_peers().iter().any(|p| p.node_id == node_id)
    })
    .await;
    let peers = api.get("/v1/node/peers").await;
    assert_eq!(peers.status, 200, "{peers:?}");
    assert!(
        peers.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["node_id"] == customer_id),
        "{peers:?}"
    );

    // Open a 100,000 sat channel, giving the customer 10,000 sat of it.
    let r = api
        .post_with_key(
            "/v1/node/channels",
            json!({"node_id": customer_id, "amount_sat": 100_000, "push_msat": 10_000_000}),
            "open-1",
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "node_channel");
    assert_eq!(r.body["capacity_sat"], 100_000);
    assert_eq!(r.body["is_outbound"], true);
    assert_eq!(r.body["is_usable"], false);
    assert_eq!(r.body["counterparty_node_id"], customer_id);

    // Funded from the chain's wallet, mined to depth.
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    wait_for("a usable channel on both sides", || async {
        channels(&api.get("/v1/node/channels").await)
            .iter()
            .any(|c| c["is_usable"] == true)
            && customer.list_channels().iter().any(|c| c.is_usable)
    })
    .await;
    let list = channels(&api.get("/v1/node/channels").await);
    assert_eq!(list.len(), 1, "{list:?}");
    let channel = &list[0];
    assert_eq!(channel["livemode"], false);
    assert_eq!(channel["capacity_sat"], 100_000);
    assert_eq!(channel["is_channel_ready"], true);
    assert!(channel["confirmations"].as_u64().unwrap() >= 3, "{channel}");
    assert!(channel["funding_txid"].is_string(), "{channel}");
    let outbound = channel["outbound_capacity_msat"].as_u64().unwrap();
    let inbound = channel["inbound_capacity_msat"].as_u64().unwrap();
    // The customer holds the pushed 10,000 sat less its reserve; the node the
    // rest less its reserve and the commitment fees.
    assert!(inbound > 0 && inbound <= 10_000_000, "{channel}");
    assert!(outbound > 0 && outbound < 90_000_000, "{channel}");
    let customer_side = customer.list_channels().remove(0);
    assert!(customer_side.is_usable);
    assert_eq!(customer_side.inbound_capacity_msat, outbound);
    let info = api.get("/v1/node").await;
    assert_eq!(info.body["num_peers"], 1, "{info:?}");
    assert_eq!(info.body["num_channels"], 1, "{info:?}");
    assert_eq!(info.body["num_usable_channels"], 1, "{info:?}");

    // A cooperative close: the closing transaction is broadcast and mined.
    let channel_id = channel["channel_id"].as_str().unwrap().to_owned();
    let r = api
        .post(&format!("/v1/node/channels/{channel_id}/close"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["channel_id"], channel_id);
    assert_eq!(r.body["is_usable"], false);
    wait_for("the closing transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(1).unwrap();
    wait_for("the channel to leave the list", || async {
        channels(&api.get("/v1/node/channels").await).is_empty()
    })
    .await;
    assert!(customer.list_channels().is_empty());
    let r = api
        .post(&format!("/v1/node/channels/{channel_id}/close"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"), "{r:?}");

    // Disconnect the customer.
    let r = api.delete(&format!("/v1/node/peers/{customer_id}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    wait_for("no peers", || async {
        channels(&api.get("/v1/node/peers").await).is_empty()
    })
    .await;
    let r = api.delete(&format!("/v1/node/peers/{customer_id}")).await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"), "{r:?}");

    customer.stop().await;
    drop(app);
    chain.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_requests_are_validated_naming_the_field_and_only_operators_may_send_them() {
    let chain = simnet().await;
    let node_dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_node(&chain, node_dir.path()).await;
    let api = operator(&app).await;
    let good = ln_node::operations::MIN_CHANNEL_SAT;
    let peer = crate::support::app::NODE;

    let cases = [
        (
            "/v1/node/peers",
            json!({"node_id": "02ab", "address": "127.0.0.1:9735"}),
            "node_id",
        ),
        (
            "/v1/node/peers",
            json!({"node_id": format!("04{}", &peer[2..]), "address": "127.0.0.1:9735"}),
            "node_id",
        ),
        (
            "/v1/node/peers",
            json!({"node_id": peer, "address": "127.0.0.1"}),
            "address",
        ),
        (
            "/v1/node/peers",
            json!({"node_id": peer, "address": "127.0.0.1:0"}),
            "address",
        ),
        (
            "/v1/node/peers",
            json!({"node_id": peer, "address": "bad_host:9735"}),
            "address",
        ),
        ("/v1/node/peers", json!({"node_id": peer}), "address"),
        (
            "/v1/node/channels",
            json!({"node_id": "xyz", "amount_sat": good}),
            "node_id",
        ),
        (
            "/v1/node/channels",
            json!({"node_id": peer, "amount_sat": 19_999}),
            "amount_sat",
        ),
        (
            "/v1/node/channels",
            json!({"node_id": peer, "amount_sat": 16_777_216}),
            "amount_sat",
        ),
        (
            "/v1/node/channels",
            json!({"node_id": peer, "amount_sat": -1}),
            "amount_sat",
        ),
        (
            "/v1/node/channels",
            json!({"node_id": peer, "amount_sat": good, "push_msat": good * 1000 + 1}),
            "push_msat",
        ),
        (
            "/v1/node/channels",
            json!({"node_id": peer, "amount_sat": good, "address": "nohost"}),
            "address",
        ),
        // Not connected and no address to connect to.
        (
            "/v1/node/channels",
            json!({"node_id": peer, "amount_sat": good}),
            "address",
        ),
        (
            "/v1/node/channels",
            json!({"node_id": peer, "amount_sat": good, "wumbo": true}),
            "wumbo",
        ),
    ];
    for (path, body, field) in cases {
        let r = api.post(path, body.clone()).await;
        assert_eq!(r.status, 400, "{path} {body}: {r:?}");
        assert_eq!(r.param(), field, "{path} {body}: {r:?}");
        assert_eq!(r.body["error"]["type"], "invalid_request_error", "{r:?}");
    }
    // A well-formed address where nobody listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody = closed.local_addr().unwrap();
    drop(closed);
    let r = api
        .post(
            "/v1/node/peers",
            json!({"node_id": peer, "address": nobody.to_string()}),
        )
        .await;
    assert_eq!((r.status, r.code()), (409, "peer_unreachable"), "{r:?}");
    let r = api
        .post(
            &format!("/v1/node/channels/{}/close", "ab".repeat(32)),
            json!({"force": true}),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"), "{r:?}");

    // Another merchant's key: 403, whatever the request.
    let other = app.api().await;
    for r in [
        other.get("/v1/node").await,
        other.get("/v1/node/peers").await,
        other.get("/v1/node/channels").await,
        other
            .post(
                "/v1/node/channels",
                json!({"node_id": peer, "amount_sat": good}),
            )
            .await,
        other.delete(&format!("/v1/node/peers/{peer}")).await,
    ] {
        assert_eq!(r.status, 403, "{r:?}");
        assert_eq!(r.body["error"]["type"], "permission_error", "{r:?}");
        assert_eq!(r.code(), "node_operator_only", "{r:?}");
    }
    drop(app);
    chain.shutdown().await;
}

#[tokio::test]
async fn without_the_node_role_node_requests_answer_503_and_the_cli_says_so() {
    let app = spawn_app().await;
    let api = operator(&app).await;
    for r in [
        api.get("/v1/node").await,
        api.get("/v1/node/channels").await,
        api.post(
            "/v1/node/peers",
            json!({"node_id": crate::support::app::NODE, "address": "127.0.0.1:9735"}),
        )
        .await,
    ] {
        assert_eq!(r.status, 503, "{r:?}");
        assert_eq!(r.code(), "node_unavailable", "{r:?}");
        assert_eq!(r.body["error"]["type"], "api_error", "{r:?}");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("another process"),
            "{r:?}"
        );
    }
    // Operators are checked first: a non-operator learns nothing about the node.
    let other = app.api().await;
    assert_eq!(other.get("/v1/node").await.status, 403);

    let output = pushbill_node(&app.address, &api.key, &["info"]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("503 node_unavailable"), "{stderr}");
}

/// Runs `pushbill node <args>` against the app.
async fn pushbill_node(url: &str, key: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushbill"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PUSHBILL") {
            cmd.env_remove(name);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    cmd.current_dir(dir.path())
        .env("PUSHBILL__LOG__FILTER", "warn")
        .env("PUSHBILL_API_KEY", key)
        .arg("node")
        .args(args)
        .arg("--url")
        .arg(url)
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_the_nodes_info_as_json() {
    let chain = simnet().await;
    let node_dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_node(&chain, node_dir.path()).await;
    let api = operator(&app).await;
    let from_api = api.get("/v1/node").await;
    assert_eq!(from_api.status, 200, "{from_api:?}");

    let output = pushbill_node(&app.address, &api.key, &["info"]).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let info: Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(info["object"], "node");
    assert_eq!(info["node_id"], from_api.body["node_id"]);
    assert_eq!(info["listen_addr"], from_api.body["listen_addr"]);
    assert_eq!(info["network"], "regtest");

    // A bad peer is named in one line.
    let output = pushbill_node(&app.address, &api.key, &["connect", "02ab@127.0.0.1:9735"]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("node_id"), "{stderr}");

    drop(app);
    chain.shutdown().await;
}

#[tokio::test]
async fn merchant_create_with_node_operator_makes_an_operator_whose_key_drives_the_node() {
    let app = spawn_app().await;
    let run = |extra: &'static [&'static str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_pushbill"));
        for (name, _) in std::env::vars() {
            if name.starts_with("PUSHBILL") {
                cmd.env_remove(name);
            }
        }
        cmd.env("PUSHBILL__DATABASE__URL", &app.database.url)
            .env("PUSHBILL__LOG__FILTER", "warn")
            .args([
                "merchant",
                "create",
                "--name",
                "Ops",
                "--invoice-prefix",
                "OPS",
            ])
            .args(extra);
        async move { cmd.output().await.unwrap() }
    };
    let key_of = |out: &std::process::Output| {
        let stdout = String::from_utf8(out.stdout.clone()).unwrap();
        assert!(out.status.success(), "{stdout}");
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("api key:"))
            .expect("a key line")
            .trim()
            .to_owned()
    };
    let operator_key = key_of(&run(&["--node-operator"]).await);
    let plain_key = key_of(&run(&[]).await);
    // The operator gets past the permission check (to the 503: no node role here).
    let r = app.api_with_key(&operator_key).get("/v1/node").await;
    assert_eq!((r.status, r.code()), (503, "node_unavailable"), "{r:?}");
    let r = app.api_with_key(&plain_key).get("/v1/node").await;
    assert_eq!((r.status, r.code()), (403, "node_operator_only"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_close_broadcasts_the_nodes_commitment_transaction() {
    let chain = simnet().await;
    let node_dir = tempfile::tempdir().unwrap();
    let customer_dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_node(&chain, node_dir.path()).await;
    let customer = customer_node(&chain, customer_dir.path()).await;
    let api = operator(&app).await;
    let r = api
        .post(
            "/v1/node/channels",
            json!({
                "node_id": customer.node_id().to_string(),
                "address": customer.listen_addr().to_string(),
                "amount_sat": 100_000
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    wait_for("a usable channel", || async {
        channels(&api.get("/v1/node/channels").await)
            .iter()
            .any(|c| c["is_usable"] == true)
    })
    .await;
    let channel = channels(&api.get("/v1/node/channels").await).remove(0);
    let funding: bitcoin::Txid = channel["funding_txid"].as_str().unwrap().parse().unwrap();
    let channel_id = channel["channel_id"].as_str().unwrap();

    let r = api
        .post(
            &format!("/v1/node/channels/{channel_id}/close"),
            json!({"force": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    // The commitment transaction spends the funding output straight away.
    wait_for("the commitment transaction", || async {
        chain
            .mempool()
            .iter()
            .any(|tx| tx.input.iter().any(|i| i.previous_output.txid == funding))
    })
    .await;
    wait_for("the channel to leave the node's list", || async {
        channels(&api.get("/v1/node/channels").await).is_empty()
    })
    .await;

    customer.stop().await;
    drop(app);
    chain.shutdown().await;
}

/// The dashboard's Node page drives the same node: only the operator
/// merchant sees it (403 for another, no menu entry); it shows the node id,
/// connection string and chain height; opens a channel from the form (bad
/// input at its field), shows it usable with its balances, and closes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_opens_and_closes_a_channel_from_the_dashboard() {
    use crate::support::browser::text_of;
    use crate::support::dashboard::{Dashboard, merchant_of};
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};

    let chain = simnet().await;
    let node_dir = tempfile::tempdir().unwrap();
    let customer_dir = tempfile::tempdir().unwrap();
    let app = spawn_app_with_node(&chain, node_dir.path()).await;
    let customer = customer_node(&chain, customer_dir.path()).await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Operator", "ops@example.com").await;
    let merchant = merchant_of(&app, "ops@example.com").await;
    let mut other = Dashboard::new(&app);
    other.sign_up("Shop", "shop@example.com").await;
    assert_eq!(other.get("/dashboard/node").await.status, 403);
    assert!(!other.get("/dashboard").await.has_id("nav-node"));
    let mut row: pushbill::store::merchants::ActiveModel = merchant.into();
    row.node_operator = Set(true);
    row.update(&app.db).await.unwrap();
    assert!(web.get("/dashboard").await.has_id("nav-node"));

    wait_page(
        &mut web,
        "/dashboard/node",
        "the node at the chain's tip",
        |body| text_of(body, "block-height") == Some(chain.height().to_string()),
    )
    .await;
    let page = web.get("/dashboard/node").await;
    let node_id = text_of(&page.body, "node-id").unwrap();
    assert_eq!(node_id.len(), 66);
    let connection = text_of(&page.body, "connection").unwrap();
    assert!(
        connection.starts_with(&format!("{node_id}@127.0.0.1:")),
        "{connection}"
    );
    assert_eq!(text_of(&page.body, "network").as_deref(), Some("regtest"));
    assert!(
        page.body.contains("id=\"connection-qr\"><svg"),
        "the connection string's QR code"
    );
    assert!(page.has_id("no-channels"));

    let customer_id = customer.node_id().to_string();
    let address = customer.listen_addr().to_string();
    let path = "/dashboard/node";
    for (node, amount, field) in [
        ("02nope", "100000", "node_id"),
        (customer_id.as_str(), "lots", "amount_sat"),
        (customer_id.as_str(), "100", "amount_sat"),
        (
            customer_id.as_str(),
            "99999999999999999999999",
            "amount_sat",
        ),
    ] {
        let page = web
            .post(
                path,
                "/dashboard/node/channels",
                &[
                    ("node_id", node),
                    ("address", &address),
                    ("amount_sat", amount),
                ],
            )
            .await;
        assert_eq!(page.status, 400, "{node} {amount}");
        assert!(
            page.has_id(&format!("error-{field}")),
            "{field}: {}",
            page.body
        );
    }
    assert!(customer.list_channels().is_empty());

    let opened = web
        .post(
            path,
            "/dashboard/node/channels",
            &[
                ("node_id", &customer_id),
                ("address", &address),
                ("amount_sat", "100000"),
            ],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.body);
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    wait_page(&mut web, path, "a usable channel on the page", |body| {
        body.contains("<td>usable</td>")
    })
    .await;
    let channel = customer.list_channels().remove(0);
    let page = web.get(path).await;
    assert!(
        page.has_id(&format!("channel-{}", channel.channel_id)),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("100000 sat"),
        "the capacity: {}",
        page.body
    );

    let closed = web
        .post(
            path,
            &format!("/dashboard/node/channels/{}/close", channel.channel_id),
            &[],
        )
        .await;
    assert_eq!(closed.status, 303, "{}", closed.body);
    wait_for("the closing transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(1).unwrap();
    wait_page(&mut web, path, "the channel to leave the page", |body| {
        body.contains("id=\"no-channels\"")
    })
    .await;
    // Another merchant cannot close or open either.
    let refused = other
        .post(
            "/dashboard",
            "/dashboard/node/channels",
            &[("node_id", &customer_id), ("amount_sat", "100000")],
        )
        .await;
    assert_eq!(refused.status, 403);
}

/// Reloads the dashboard page at `path` until `done` holds for its body.
async fn wait_page(
    web: &mut crate::support::dashboard::Dashboard,
    path: &str,
    what: &str,
    done: impl Fn(&str) -> bool,
) {
    for _ in 0..600 {
        if done(&web.get(path).await.body) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}
