//! The node role in `pushbill serve`: starts the chain access (a configured
//! bitcoind, or in the sandbox the embedded simulator), the node, and the
//! loops that issue BOLT11 invoices for the billing engine's payment
//! requests, push them, and answer the grant messages (subscribe handshake,
//! grant ends).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::grants::{self, GrantService};
use super::issuer::{BillingSink, run_issuer};
use super::nwc_sender::NwcSender;
use super::push_sender::{PushPolicy, PushSender};
use super::send_loop;
use crate::config::Settings;
use crate::context::Context;
use crate::nwc::sandbox_relay::SandboxRelay;
use ln_node::bitcoind::RpcAuth;
use ln_node::{Inboxes, Node, NodeConfig};
use push_protocol::handler::IncomingGrantMessage;
use simnet::{Simnet, SimnetConfig};

/// A started node role.
pub struct NodeRole {
    pub node: Arc<Node>,
    /// The embedded chain simulator, when the sandbox runs one.
    pub simnet: Option<Simnet>,
    /// The sandbox's nostr relay for wallet connections, beside the simulator.
    pub relay: Option<SandboxRelay>,
    /// Subscribe handshake and grant-end messages from peers.
    grant_inbox: tokio::sync::mpsc::UnboundedReceiver<IncomingGrantMessage>,
}

impl NodeRole {
    pub async fn start(context: &Context) -> anyhow::Result<NodeRole> {
        let settings = &context.settings;
        let ln = &settings.lightning;
        let (bitcoind, simnet) = match &settings.bitcoind {
            Some(btc) => (
                RpcAuth {
                    url: btc.rpc_url.clone(),
                    user: btc.rpc_user.clone(),
                    password: btc.rpc_password.expose_secret().to_owned(),
                },
                None,
            ),
            None => {
                // Only this process talks to its own simulator.
                let password = hex::encode(rand::random::<[u8; 32]>());
                let simnet = Simnet::start(SimnetConfig {
                    listen: "127.0.0.1:0".parse().expect("loopback"),
                    rpc_user: "pushbill".into(),
                    rpc_password: SecretString::from(password.clone()),
                    block_interval: (ln.simnet_block_interval_secs > 0)
                        .then(|| Duration::from_secs(ln.simnet_block_interval_secs)),
                    data_dir: Some(ln.simnet_data_dir.clone()),
                })
                .await
                .context("starting the embedded chain simulator")?;
                (
                    RpcAuth {
                        url: simnet.rpc_url(),
                        user: "pushbill".into(),
                        password,
                    },
                    Some(simnet),
                )
            }
        };
        let bitcoind_for_payers = bitcoind.clone();
        let config = NodeConfig {
            data_dir: ln.data_dir.clone(),
            listen: ln.listen,
            network: settings.app.network.bitcoin(),
            bitcoind,
            chain_poll_interval: Duration::from_millis(ln.chain_poll_ms),
            reconnect_interval: Duration::from_secs(5),
            minimum_depth: ln.minimum_depth,
        };
        let sink = Arc::new(BillingSink {
            db: context.db.clone(),
            clocks: context.clocks.clone(),
        });
        let (grant_tx, grant_inbox) = tokio::sync::mpsc::unbounded_channel();
        let inboxes = Inboxes {
            pushes: None,
            grants: Some(grant_tx),
        };
        let node = Node::start_with_inboxes(config, sink, inboxes).await?;
        let relay = match simnet.is_some() {
            true => {
                let relay = SandboxRelay::start(settings.nwc.sandbox_relay_listen)
                    .await
                    .context("starting the sandbox's nostr relay")?;
                tracing::info!(url = %relay.url, "the sandbox's nostr relay for wallet connections runs");
                share_sandbox_chain(&ln.simnet_data_dir, &bitcoind_for_payers, &node, &relay.url)?;
                Some(relay)
            }
            false => None,
        };
        // Subscribe codes name this node: the web role reads it from here.
        let address = ln
            .public_address
            .clone()
            .unwrap_or_else(|| node.listen_addr().to_string());
        crate::store::node_identity::record(
            &context.db,
            context.clocks.now(),
            &node.node_id().to_string(),
            &address,
        )
        .await
        .context("recording the node's identity")?;
        Ok(NodeRole {
            node,
            simnet,
            relay,
            grant_inbox,
        })
    }

    /// Issues invoices and pushes them until `shutdown`, then stops the node cleanly.
    pub async fn run(self, context: Context, shutdown: CancellationToken) -> anyhow::Result<()> {
        let ln = &context.settings.lightning;
        let expiry = chrono::Duration::seconds(i64::from(ln.invoice_expiry_secs));
        let pusher = PushSender {
            db: context.db.clone(),
            clock: context.clocks.deployment(),
            node: Arc::clone(&self.node),
            policy: push_policy(&context.settings),
        };
        let wallets = NwcSender::new(
            context.db.clone(),
            context.clocks.deployment(),
            context.seal.clone(),
            nwc_policy(&context.settings),
        );
        let grant_service = GrantService {
            db: context.db.clone(),
            clocks: context.clocks.clone(),
            node: Arc::clone(&self.node),
        };
        let (result, (), (), ()) = tokio::join!(
            run_issuer(
                context.db.clone(),
                context.clocks.deployment(),
                Arc::clone(&self.node),
                expiry,
                Duration::from_secs(1),
                shutdown.clone(),
            ),
            send_loop::run(pusher, Duration::from_secs(1), shutdown.clone()),
            send_loop::run(wallets, Duration::from_secs(1), shutdown.clone()),
            grants::run(grant_service, self.grant_inbox, shutdown),
        );
        self.node.stop().await;
        if let Some(relay) = self.relay {
            relay.stop().await;
        }
        if let Some(simnet) = self.simnet {
            simnet.shutdown().await;
        }
        result
    }
}

/// Lets a subscriber's payer join the sandbox: the simulator's RPC, this
/// node's address and the sandbox's nostr relay go to `<data>/sandbox/chain.json` (owner-only), where
/// `<data>` holds the simulator's folder (`data/` by default), for
/// `pushbill payer run --sandbox <data>`.
fn share_sandbox_chain(
    simnet_dir: &std::path::Path,
    rpc: &RpcAuth,
    node: &Node,
    relay: &str,
) -> anyhow::Result<()> {
    let data = simnet_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut listen = node.listen_addr();
    if listen.ip().is_unspecified() {
        listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    payer::sandbox::SandboxChain {
        url: rpc.url.clone(),
        user: rpc.user.clone(),
        password: rpc.password.clone(),
        merchant_node: Some(format!("{}@{listen}", node.node_id())),
        nostr_relay: Some(relay.to_owned()),
    }
    .write(data)
    .context("writing the sandbox's chain file for payers")?;
    tracing::info!(file = %payer::sandbox::path(data).display(), "payers join the sandbox with `pushbill payer run --sandbox`");
    Ok(())
}

/// How the node role delivers pushes, from `[lightning]`.
pub fn push_policy(settings: &Settings) -> PushPolicy {
    let ln = &settings.lightning;
    PushPolicy {
        reply_timeout: Duration::from_secs(ln.push_reply_timeout_secs),
        max_tries: i32::try_from(ln.push_max_tries.max(1)).unwrap_or(i32::MAX),
        backoff: chrono::Duration::seconds(i64::try_from(ln.push_retry_secs).unwrap_or(3600)),
        max_in_flight: usize::try_from(ln.push_max_in_flight.max(1)).unwrap_or(16),
    }
}

/// How the node role sends payment requests to wallets: the push schedule,
/// waiting `[nwc] pay_timeout_secs` for each answer.
pub fn nwc_policy(settings: &Settings) -> PushPolicy {
    PushPolicy {
        reply_timeout: Duration::from_secs(settings.nwc.pay_timeout_secs),
        ..push_policy(settings)
    }
}
