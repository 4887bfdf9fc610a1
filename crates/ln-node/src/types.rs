//! The concrete LDK types of pushbill's node: one place that names them all.

use std::sync::{Arc, RwLock};

use lightning::chain::Filter;
use lightning::chain::chainmonitor;
use lightning::ln::channelmanager;
use lightning::ln::peer_handler::{self, IgnoringMessageHandler};
use lightning::onion_message::messenger::{self, DefaultMessageRouter};
use lightning::routing::gossip;
use lightning::routing::router::DefaultRouter;
use lightning::routing::scoring::{ProbabilisticScorer, ProbabilisticScoringFeeParameters};
use lightning::routing::utxo::UtxoLookup;
use lightning::sign::{InMemorySigner, KeysManager};
use lightning_net_tokio::SocketDescriptor;
use lightning_persister::fs_store::FilesystemStore;

use crate::bitcoind::BitcoindClient;
use crate::logger::LdkLogger;
use push_protocol::handler::PushHandler;

pub type Store = FilesystemStore;

pub type ChainMonitor = chainmonitor::ChainMonitor<
    InMemorySigner,
    Arc<dyn Filter + Send + Sync>,
    Arc<BitcoindClient>,
    Arc<BitcoindClient>,
    Arc<LdkLogger>,
    Arc<Store>,
    Arc<KeysManager>,
>;

pub type NetworkGraph = gossip::NetworkGraph<Arc<LdkLogger>>;

pub type Scorer = ProbabilisticScorer<Arc<NetworkGraph>, Arc<LdkLogger>>;

pub type Router = DefaultRouter<
    Arc<NetworkGraph>,
    Arc<LdkLogger>,
    Arc<KeysManager>,
    Arc<RwLock<Scorer>>,
    ProbabilisticScoringFeeParameters,
    Scorer,
>;

pub type MessageRouter = DefaultMessageRouter<Arc<NetworkGraph>, Arc<LdkLogger>, Arc<KeysManager>>;

pub type ChannelManager = channelmanager::ChannelManager<
    Arc<ChainMonitor>,
    Arc<BitcoindClient>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<BitcoindClient>,
    Arc<Router>,
    Arc<MessageRouter>,
    Arc<LdkLogger>,
>;

pub type OnionMessenger = messenger::OnionMessenger<
    Arc<KeysManager>,
    Arc<KeysManager>,
    Arc<LdkLogger>,
    Arc<ChannelManager>,
    Arc<MessageRouter>,
    Arc<ChannelManager>,
    IgnoringMessageHandler,
    IgnoringMessageHandler,
    IgnoringMessageHandler,
>;

pub type GossipSync =
    gossip::P2PGossipSync<Arc<NetworkGraph>, Arc<dyn UtxoLookup + Send + Sync>, Arc<LdkLogger>>;

pub type PeerManager = peer_handler::PeerManager<
    SocketDescriptor,
    Arc<ChannelManager>,
    Arc<GossipSync>,
    Arc<OnionMessenger>,
    Arc<LdkLogger>,
    Arc<PushHandler>,
    Arc<KeysManager>,
    Arc<ChainMonitor>,
>;
