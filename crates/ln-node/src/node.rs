//! The embedded LDK node, wired the way ldk-sample is: a KeysManager from the
//! seed file, ChainMonitor + ChannelManager persisted in a FilesystemStore
//! (monitors are written before LDK goes on, so a crash loses no channel
//! state), a PeerManager on TCP, an OnionMessenger, a NetworkGraph and scorer
//! for paying, block sync through bitcoind's RPC, and the background processor
//! driving one event handler (see [`crate::events`]).

use std::io::Cursor;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use bitcoin::BlockHash;
use bitcoin::secp256k1::PublicKey;
use lightning::chain::{BestBlock, ChannelMonitorUpdateStatus, Filter, Listen, Watch};
use lightning::ln::channelmanager::{ChainParameters, ChannelManagerReadArgs};
use lightning::ln::peer_handler::{IgnoringMessageHandler, MessageHandler};
use lightning::onion_message::messenger::DefaultMessageRouter;
use lightning::routing::router::DefaultRouter;
use lightning::routing::scoring::{
    ProbabilisticScoringDecayParameters, ProbabilisticScoringFeeParameters,
};
use lightning::routing::utxo::UtxoLookup;
use lightning::sign::KeysManager;
use lightning::util::config::UserConfig;
use lightning::util::persist::{
    CHANNEL_MANAGER_PERSISTENCE_KEY, CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
    CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE, KVStoreSync, NETWORK_GRAPH_PERSISTENCE_KEY,
    NETWORK_GRAPH_PERSISTENCE_PRIMARY_NAMESPACE, NETWORK_GRAPH_PERSISTENCE_SECONDARY_NAMESPACE,
    SCORER_PERSISTENCE_KEY, SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
    SCORER_PERSISTENCE_SECONDARY_NAMESPACE, read_channel_monitors,
};
use lightning::util::ser::ReadableArgs;
use lightning_background_processor::{
    GossipSync as BgGossipSync, NO_LIQUIDITY_MANAGER, process_events_async_with_kv_store_sync,
};
use lightning_block_sync::poll::ChainPoller;
use lightning_block_sync::{SpvClient, UnboundedCache, init};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::bitcoind::{BitcoindClient, RpcAuth};
use crate::events::{EventHandler, OutboundPayments};
use crate::logger::LdkLogger;
use crate::peers::PeerBook;
use crate::types::{
    ChainMonitor, ChannelManager, GossipSync, MessageRouter, NetworkGraph, OnionMessenger,
    PeerManager, Router, Scorer, Store,
};
use crate::{PaymentSink, seed};
use push_protocol::handler::{IncomingGrantMessage, IncomingPush, PushHandler};

/// What a node needs to start.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Seed, channel state, graph and scorer live here.
    pub data_dir: PathBuf,
    /// Where peers connect (port 0 picks a free one).
    pub listen: SocketAddr,
    pub network: bitcoin::Network,
    pub bitcoind: RpcAuth,
    /// How often the chain tip is polled.
    pub chain_poll_interval: Duration,
    /// How often peers we have channels with are reconnected when they drop.
    pub reconnect_interval: Duration,
    /// Confirmations asked of channels opened to this node.
    pub minimum_depth: u32,
}

/// Where a node hands incoming protocol messages (docs/push-invoices.md).
#[derive(Debug, Default)]
pub struct Inboxes {
    /// Push invoices: set on a subscriber's node, which then advertises the
    /// push feature bit.
    pub pushes: Option<mpsc::UnboundedSender<IncomingPush>>,
    /// Subscribe handshake and grant-end messages, with the sending peer.
    pub grants: Option<mpsc::UnboundedSender<IncomingGrantMessage>>,
}

/// A running node. Cheap to share behind an `Arc`.
pub struct Node {
    pub(crate) channel_manager: Arc<ChannelManager>,
    pub(crate) peer_manager: Arc<PeerManager>,
    pub(crate) outbound: Arc<OutboundPayments>,
    pub(crate) peers: Arc<PeerBook>,
    pub(crate) push: Arc<PushHandler>,
    /// Signs the BOLT11 invoices the node builds (`operations::create_invoice`).
    pub(crate) keys: Arc<KeysManager>,
    listen_addr: SocketAddr,
    network: bitcoin::Network,
    stop_background: tokio::sync::watch::Sender<()>,
    background: Mutex<Option<JoinHandle<Result<(), lightning::io::Error>>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Held while the node runs: no second node on the same folder.
    lock: Mutex<Option<std::fs::File>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node_id", &self.node_id())
            .field("listen", &self.listen_addr)
            .finish()
    }
}

impl Node {
    /// Starts the node: loads or creates its state, syncs to the chain tip,
    /// listens for peers and runs the background processor.
    pub async fn start(
        config: NodeConfig,
        sink: Arc<dyn PaymentSink>,
    ) -> anyhow::Result<Arc<Node>> {
        Self::start_with(config, sink, None).await
    }

    /// [`Node::start`] for a node that takes push invoices: they arrive on
    /// `push_inbox`, and the node advertises the push feature bit to peers.
    pub async fn start_with(
        config: NodeConfig,
        sink: Arc<dyn PaymentSink>,
        push_inbox: Option<mpsc::UnboundedSender<IncomingPush>>,
    ) -> anyhow::Result<Arc<Node>> {
        let inboxes = Inboxes {
            pushes: push_inbox,
            grants: None,
        };
        Self::start_with_inboxes(config, sink, inboxes).await
    }

    /// [`Node::start`] with the owner's inboxes for incoming protocol messages.
    pub async fn start_with_inboxes(
        config: NodeConfig,
        sink: Arc<dyn PaymentSink>,
        inboxes: Inboxes,
    ) -> anyhow::Result<Arc<Node>> {
        // Step 1: one node per folder, held until the node stops.
        let lock = dir_lock::lock(&config.data_dir)
            .with_context(|| format!("locking {}", config.data_dir.display()))?
            .ok_or_else(|| {
                anyhow!(
                    "{} is used by another running node: one node per folder",
                    config.data_dir.display()
                )
            })?;
        // Step 2: keys from the seed file (created 0600 on first start).
        let seed = seed::load_or_create(&config.data_dir)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        let keys = Arc::new(KeysManager::new(
            &seed,
            now.as_secs(),
            now.subsec_nanos(),
            true,
        ));
        // Step 3: logger, persister, and chain access through bitcoind on the configured network.
        let logger = Arc::new(LdkLogger);
        let store = Arc::new(Store::new(config.data_dir.join("ldk")));
        let bitcoind = BitcoindClient::connect(&config.bitcoind).await?;
        check_chain(&bitcoind, config.network).await?;

        // Step 4: network graph, scorer and routers.
        let graph = Arc::new(read_graph(&store, config.network, &logger)?);
        let scorer = Arc::new(RwLock::new(read_scorer(&store, &graph, &logger)?));
        let router = Arc::new(DefaultRouter::new(
            Arc::clone(&graph),
            Arc::clone(&logger),
            Arc::clone(&keys),
            Arc::clone(&scorer),
            ProbabilisticScoringFeeParameters::default(),
        )) as Arc<Router>;
        let message_router = Arc::new(DefaultMessageRouter::new(
            Arc::clone(&graph),
            Arc::clone(&keys),
        )) as Arc<MessageRouter>;
        // Step 5: the chain monitor.
        let chain_monitor = Arc::new(ChainMonitor::new(
            None::<Arc<dyn Filter + Send + Sync>>,
            Arc::clone(&bitcoind),
            Arc::clone(&logger),
            Arc::clone(&bitcoind),
            Arc::clone(&store),
            Arc::clone(&keys),
            lightning::sign::NodeSigner::get_peer_storage_key(&*keys),
        ));

        // Step 6: channel monitors and the channel manager from disk, or a new manager.
        let mut monitors =
            read_channel_monitors(Arc::clone(&store), Arc::clone(&keys), Arc::clone(&keys))
                .context("reading channel monitors")?;
        let user_config = user_config(config.minimum_depth);
        let (manager_tip, channel_manager) = match store.read(
            CHANNEL_MANAGER_PERSISTENCE_PRIMARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_SECONDARY_NAMESPACE,
            CHANNEL_MANAGER_PERSISTENCE_KEY,
        ) {
            Ok(bytes) => {
                let args = ChannelManagerReadArgs::new(
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    Arc::clone(&bitcoind),
                    Arc::clone(&chain_monitor),
                    Arc::clone(&bitcoind),
                    Arc::clone(&router),
                    Arc::clone(&message_router),
                    Arc::clone(&logger),
                    user_config,
                    monitors.iter().map(|(_, m)| m).collect(),
                );
                let (tip, manager) =
                    <(BlockHash, ChannelManager)>::read(&mut Cursor::new(bytes), args)
                        .map_err(|e| anyhow!("reading the channel manager: {e:?}"))?;
                (tip, manager)
            }
            Err(e) if e.kind() == lightning::io::ErrorKind::NotFound => {
                if !monitors.is_empty() {
                    bail!(
                        "channel monitors exist but the channel manager is missing: refusing to start"
                    );
                }
                let (hash, height) = best_block(&bitcoind).await?;
                let params = ChainParameters {
                    network: config.network,
                    best_block: BestBlock::new(hash, height),
                };
                let manager = ChannelManager::new(
                    Arc::clone(&bitcoind),
                    Arc::clone(&chain_monitor),
                    Arc::clone(&bitcoind),
                    Arc::clone(&router),
                    Arc::clone(&message_router),
                    Arc::clone(&logger),
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    Arc::clone(&keys),
                    user_config,
                    params,
                    now.as_secs() as u32,
                );
                (hash, manager)
            }
            Err(e) => return Err(e).context("reading the channel manager"),
        };
        let channel_manager = Arc::new(channel_manager);

        // Step 7: bring the manager and every monitor to the chain tip, then watch the channels.
        let mut cache = UnboundedCache::new();
        let chain_tip = {
            let monitor_listeners: Vec<_> = monitors
                .drain(..)
                .map(|(tip, monitor)| {
                    (
                        tip,
                        (
                            monitor,
                            Arc::clone(&bitcoind),
                            Arc::clone(&bitcoind),
                            Arc::clone(&logger),
                        ),
                    )
                })
                .collect();
            let mut listeners: Vec<(BlockHash, &(dyn Listen + Send + Sync))> = vec![(
                manager_tip,
                &*channel_manager as &(dyn Listen + Send + Sync),
            )];
            for (tip, listener) in &monitor_listeners {
                listeners.push((*tip, listener as &(dyn Listen + Send + Sync)));
            }
            let tip = init::synchronize_listeners(
                Arc::clone(&bitcoind),
                config.network,
                &mut cache,
                listeners,
            )
            .await
            .map_err(|e| anyhow!("syncing to the chain tip: {:?}", e.into_inner()))?;
            for (_, (monitor, ..)) in monitor_listeners {
                let id = monitor.channel_id();
                if chain_monitor.watch_channel(id, monitor)
                    != Ok(ChannelMonitorUpdateStatus::Completed)
                {
                    bail!("could not watch channel {id}");
                }
            }
            tip
        };

        // Step 8: onion messenger, gossip sync, the push handler and the peer manager.
        let onion_messenger = Arc::new(OnionMessenger::new(
            Arc::clone(&keys),
            Arc::clone(&keys),
            Arc::clone(&logger),
            Arc::clone(&channel_manager),
            Arc::clone(&message_router),
            Arc::clone(&channel_manager),
            IgnoringMessageHandler {},
            IgnoringMessageHandler {},
            IgnoringMessageHandler {},
        ));
        let gossip_sync = Arc::new(GossipSync::new(
            Arc::clone(&graph),
            None::<Arc<dyn UtxoLookup + Send + Sync>>,
            Arc::clone(&logger),
        ));
        let mut push = PushHandler::new(inboxes.pushes);
        if let Some(grants) = inboxes.grants {
            push = push.with_grant_inbox(grants);
        }
        let push = Arc::new(push);
        let mut ephemeral = [0u8; 32];
        rand::fill(&mut ephemeral);
        let peer_manager = Arc::new(PeerManager::new(
            MessageHandler {
                chan_handler: Arc::clone(&channel_manager),
                route_handler: Arc::clone(&gossip_sync),
                onion_message_handler: Arc::clone(&onion_messenger),
                custom_message_handler: Arc::clone(&push),
                send_only_message_handler: Arc::clone(&chain_monitor),
            },
            now.as_secs() as u32,
            &ephemeral,
            Arc::clone(&logger),
            Arc::clone(&keys),
        ));

        // Step 9: listen for peers; fee updates, chain sync and reconnection tasks.
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening for peers on {}", config.listen))?;
        let listen_addr = listener.local_addr()?;
        let peers = Arc::new(PeerBook::load(Arc::clone(&store))?);
        let outbound = Arc::new(OutboundPayments::default());
        let tasks = vec![
            bitcoind.spawn_fee_updates(Duration::from_secs(60)),
            spawn_accept_loop(listener, Arc::clone(&peer_manager)),
            spawn_chain_sync(
                chain_tip,
                cache,
                Arc::clone(&bitcoind),
                config.network,
                Arc::clone(&chain_monitor),
                Arc::clone(&channel_manager),
                config.chain_poll_interval,
            ),
            peers.spawn_reconnect_loop(
                Arc::clone(&peer_manager),
                Arc::clone(&channel_manager),
                config.reconnect_interval,
            ),
        ];

        // Step 10: the event handler and the background processor.
        let handler = Arc::new(EventHandler {
            channel_manager: Arc::clone(&channel_manager),
            bitcoind: Arc::clone(&bitcoind),
            sink,
            outbound: Arc::clone(&outbound),
            store: Arc::clone(&store),
        });
        let (stop_background, stop_rx) = tokio::sync::watch::channel(());
        let sleeper = move |d| {
            let mut stop = stop_rx.clone();
            Box::pin(async move {
                tokio::select! {
                    _ = tokio::time::sleep(d) => false,
                    _ = stop.changed() => true,
                }
            })
        };
        let background = tokio::spawn(process_events_async_with_kv_store_sync(
            Arc::clone(&store),
            move |event| {
                let handler = Arc::clone(&handler);
                async move { handler.handle(event).await }
            },
            Arc::clone(&chain_monitor),
            Arc::clone(&channel_manager),
            Some(Arc::clone(&onion_messenger)),
            BgGossipSync::p2p(Arc::clone(&gossip_sync)),
            Arc::clone(&peer_manager),
            NO_LIQUIDITY_MANAGER,
            None::<Arc<NoSweeper>>,
            Arc::clone(&logger),
            Some(Arc::clone(&scorer)),
            sleeper,
            false,
            || SystemTime::now().duration_since(UNIX_EPOCH).ok(),
        ));

        tracing::info!(
            node_id = %channel_manager.get_our_node_id(),
            listen = %listen_addr,
            network = %config.network,
            "lightning node running"
        );
        Ok(Arc::new(Node {
            channel_manager,
            peer_manager,
            outbound,
            peers,
            push,
            keys,
            listen_addr,
            network: config.network,
            stop_background,
            background: Mutex::new(Some(background)),
            tasks: Mutex::new(tasks),
            lock: Mutex::new(Some(lock)),
        }))
    }

    pub fn node_id(&self) -> PublicKey {
        self.channel_manager.get_our_node_id()
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    pub fn network(&self) -> bitcoin::Network {
        self.network
    }

    pub fn best_block(&self) -> BestBlock {
        self.channel_manager.current_best_block()
    }

    /// Stops cleanly: the background processor persists the channel manager
    /// one last time, peers are disconnected.
    pub async fn stop(&self) {
        let _ = self.stop_background.send(());
        let background = self.background.lock().expect("node").take();
        if let Some(handle) = background {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "background processor failed"),
                Err(e) => tracing::error!(error = %e, "background processor panicked"),
            }
        }
        self.halt();
        tracing::info!("lightning node stopped");
    }

    /// Stops as a crash would: no final persistence, tasks torn down where they are.
    pub fn crash(&self) {
        if let Some(handle) = self.background.lock().expect("node").take() {
            handle.abort();
        }
        self.halt();
    }

    fn halt(&self) {
        for task in self.tasks.lock().expect("node").drain(..) {
            task.abort();
        }
        self.peer_manager.disconnect_all_peers();
        self.lock.lock().expect("node").take();
    }
}

/// The node does not run LDK's output sweeper yet: spendable outputs are
/// recorded instead (see `events.rs`). This names the background processor's `None`.
type NoSweeper = lightning::util::sweep::OutputSweeperSync<
    Arc<BitcoindClient>,
    Arc<NoChangeDestination>,
    Arc<BitcoindClient>,
    Arc<dyn Filter + Send + Sync>,
    Arc<Store>,
    Arc<LdkLogger>,
    Arc<KeysManager>,
>;

fn user_config(minimum_depth: u32) -> UserConfig {
    let mut config = UserConfig::default();
    config.channel_handshake_config.minimum_depth = minimum_depth;
    // Subscribers open private channels to the merchant; do not announce them.
    config.channel_handshake_config.announce_for_forwarding = false;
    config
        .channel_handshake_limits
        .force_announced_channel_preference = false;
    // Streaming subscribers pay many small invoices at once: accept as many
    // HTLCs in flight as BOLT 2 allows (LDK's default is 50).
    config.channel_handshake_config.our_max_accepted_htlcs = MAX_ACCEPTED_HTLCS;
    // A subscriber pays invoices up to what its channel to the merchant
    // holds: LDK's default caps inbound HTLCs in flight at 10% of the
    // channel (a 200,000 sat channel could not pay a 21,000 sat invoice).
    // A merchant's node only receives; what is in flight is its customers'
    // payments, claimed as they arrive.
    config
        .channel_handshake_config
        .max_inbound_htlc_value_in_flight_percent_of_channel = 100;
    config
}

/// BOLT 2's limit on `max_accepted_htlcs`.
const MAX_ACCEPTED_HTLCS: u16 = 483;

async fn best_block(bitcoind: &BitcoindClient) -> anyhow::Result<(BlockHash, u32)> {
    use lightning_block_sync::BlockSource;
    let (hash, height) = bitcoind
        .get_best_block()
        .await
        .map_err(|e| anyhow!("bitcoind best block: {:?}", e.into_inner()))?;
    Ok((
        hash,
        height.ok_or_else(|| anyhow!("bitcoind did not say the tip height"))?,
    ))
}

/// Refuses to start a node on a chain other than the configured one.
async fn check_chain(bitcoind: &BitcoindClient, network: bitcoin::Network) -> anyhow::Result<()> {
    let chain = bitcoind.chain().await?;
    let expected = match network {
        bitcoin::Network::Bitcoin => "main",
        bitcoin::Network::Testnet => "test",
        bitcoin::Network::Testnet4 => "testnet4",
        bitcoin::Network::Signet => "signet",
        _ => "regtest",
    };
    if chain != expected {
        bail!("bitcoind is on chain `{chain}` but the node is configured for `{expected}`");
    }
    Ok(())
}

fn read_graph(
    store: &Store,
    network: bitcoin::Network,
    logger: &Arc<LdkLogger>,
) -> anyhow::Result<NetworkGraph> {
    match store.read(
        NETWORK_GRAPH_PERSISTENCE_PRIMARY_NAMESPACE,
        NETWORK_GRAPH_PERSISTENCE_SECONDARY_NAMESPACE,
        NETWORK_GRAPH_PERSISTENCE_KEY,
    ) {
        Ok(bytes) => NetworkGraph::read(&mut Cursor::new(bytes), Arc::clone(logger))
            .map_err(|e| anyhow!("reading the network graph: {e:?}")),
        Err(e) if e.kind() == lightning::io::ErrorKind::NotFound => {
            Ok(NetworkGraph::new(network, Arc::clone(logger)))
        }
        Err(e) => Err(e).context("reading the network graph"),
    }
}

fn read_scorer(
    store: &Store,
    graph: &Arc<NetworkGraph>,
    logger: &Arc<LdkLogger>,
) -> anyhow::Result<Scorer> {
    let params = ProbabilisticScoringDecayParameters::default();
    match store.read(
        SCORER_PERSISTENCE_PRIMARY_NAMESPACE,
        SCORER_PERSISTENCE_SECONDARY_NAMESPACE,
        SCORER_PERSISTENCE_KEY,
    ) {
        Ok(bytes) => Scorer::read(
            &mut Cursor::new(bytes),
            (params, Arc::clone(graph), Arc::clone(logger)),
        )
        .map_err(|e| anyhow!("reading the scorer: {e:?}")),
        Err(e) if e.kind() == lightning::io::ErrorKind::NotFound => {
            Ok(Scorer::new(params, Arc::clone(graph), Arc::clone(logger)))
        }
        Err(e) => Err(e).context("reading the scorer"),
    }
}

fn spawn_accept_loop(
    listener: tokio::net::TcpListener,
    peer_manager: Arc<PeerManager>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, from)) => {
                    let pm = Arc::clone(&peer_manager);
                    match stream.into_std() {
                        Ok(stream) => {
                            tokio::spawn(lightning_net_tokio::setup_inbound(pm, stream));
                        }
                        Err(e) => tracing::warn!(%from, error = %e, "inbound peer dropped"),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a peer failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn spawn_chain_sync(
    tip: lightning_block_sync::poll::ValidatedBlockHeader,
    mut cache: UnboundedCache,
    bitcoind: Arc<BitcoindClient>,
    network: bitcoin::Network,
    chain_monitor: Arc<ChainMonitor>,
    channel_manager: Arc<ChannelManager>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let poller = ChainPoller::new(bitcoind, network);
        let listener = (chain_monitor, channel_manager);
        let mut client = SpvClient::new(tip, poller, &mut cache, &listener);
        loop {
            if let Err(e) = client.poll_best_tip().await {
                tracing::warn!(error = ?e.into_inner(), "polling the chain tip failed");
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Never called: only completes the [`NoSweeper`] type.
struct NoChangeDestination;

impl lightning::sign::ChangeDestinationSourceSync for NoChangeDestination {
    fn get_change_destination_script(&self) -> Result<bitcoin::ScriptBuf, ()> {
        Err(())
    }
}
