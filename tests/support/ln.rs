//! Shared pieces of the Lightning tests: a chain simulator, node settings
//! pointing at it, and waiting for something to happen.

use std::time::Duration;

use ln_node::NodeConfig;
use ln_node::bitcoind::RpcAuth;
use secrecy::SecretString;
use simnet::{Simnet, SimnetConfig};

pub const RPC_USER: &str = "test";
pub const RPC_PASSWORD: &str = "test-password";

/// An in-memory chain simulator on a free loopback port, mined on demand.
pub async fn simnet() -> Simnet {
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

/// A node on `chain`, its state in `dir`, peers on `listen`.
pub fn node_config(
    chain: &Simnet,
    dir: &std::path::Path,
    listen: std::net::SocketAddr,
) -> NodeConfig {
    NodeConfig {
        data_dir: dir.to_owned(),
        listen,
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

/// Polls `check` until it holds. The two-minute deadline only turns a hang
/// into a failure naming `what`; it is no performance assertion.
pub async fn wait_for<F, Fut>(what: &str, mut check: F)
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
