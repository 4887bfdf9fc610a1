//! The peers the node knows how to reach, kept in the node's store so that
//! after a restart it reconnects to the peers it has channels with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use bitcoin::secp256k1::PublicKey;
use lightning::util::persist::KVStoreSync;
use tokio::task::JoinHandle;

use crate::types::{ChannelManager, PeerManager, Store};

const NAMESPACE: &str = "pushbill";
const KEY: &str = "peers";

pub struct PeerBook {
    store: Arc<Store>,
    addresses: Mutex<BTreeMap<PublicKey, SocketAddr>>,
}

impl PeerBook {
    pub fn load(store: Arc<Store>) -> anyhow::Result<Self> {
        let addresses = match store.read(NAMESPACE, "", KEY) {
            Ok(bytes) => parse(&bytes).context("reading the peer book")?,
            Err(e) if e.kind() == lightning::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e).context("reading the peer book"),
        };
        Ok(Self {
            store,
            addresses: Mutex::new(addresses),
        })
    }

    /// Remembers where `node_id` listens (written through to the store).
    pub fn remember(&self, node_id: PublicKey, addr: SocketAddr) -> anyhow::Result<()> {
        let mut book = self.addresses.lock().expect("peer book");
        if book.get(&node_id) == Some(&addr) {
            return Ok(());
        }
        book.insert(node_id, addr);
        let text: String = book.iter().map(|(id, a)| format!("{id}@{a}\n")).collect();
        self.store
            .write(NAMESPACE, "", KEY, text.into_bytes())
            .context("writing the peer book")
    }

    pub fn address(&self, node_id: &PublicKey) -> Option<SocketAddr> {
        self.addresses
            .lock()
            .expect("peer book")
            .get(node_id)
            .copied()
    }

    /// Every `every`, connects to known peers we share a channel with but are
    /// not connected to.
    pub fn spawn_reconnect_loop(
        self: &Arc<Self>,
        peer_manager: Arc<PeerManager>,
        channel_manager: Arc<ChannelManager>,
        every: Duration,
    ) -> JoinHandle<()> {
        let book = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let mut wanted: Vec<PublicKey> = channel_manager
                    .list_channels()
                    .iter()
                    .map(|c| c.counterparty.node_id)
                    .collect();
                wanted.sort();
                wanted.dedup();
                for node_id in wanted {
                    if peer_manager.peer_by_node_id(&node_id).is_some() {
                        continue;
                    }
                    let Some(addr) = book.address(&node_id) else {
                        continue;
                    };
                    if let Err(e) = connect(&peer_manager, node_id, addr).await {
                        tracing::debug!(%node_id, %addr, error = %e, "reconnect failed");
                    }
                }
            }
        })
    }
}

/// Opens an outbound connection and waits until the handshake is done.
pub async fn connect(
    peer_manager: &Arc<PeerManager>,
    node_id: PublicKey,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    if peer_manager.peer_by_node_id(&node_id).is_some() {
        return Ok(());
    }
    let connection = tokio::time::timeout(
        Duration::from_secs(10),
        lightning_net_tokio::connect_outbound(Arc::clone(peer_manager), node_id, addr),
    )
    .await
    .map_err(|_| anyhow!("connecting to {addr} timed out"))?
    .ok_or_else(|| anyhow!("could not connect to {addr}"))?;
    let mut connection = Box::pin(connection);
    for _ in 0..100 {
        if peer_manager.peer_by_node_id(&node_id).is_some() {
            return Ok(());
        }
        // The connection future ends when the peer goes away, or when this
        // was a duplicate of a connection that just came up the other way.
        tokio::select! {
            _ = &mut connection => {
                if peer_manager.peer_by_node_id(&node_id).is_some() {
                    return Ok(());
                }
                return Err(anyhow!("{node_id}@{addr} closed the connection during the handshake"));
            }
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    Err(anyhow!("handshake with {node_id}@{addr} did not finish"))
}

fn parse(bytes: &[u8]) -> anyhow::Result<BTreeMap<PublicKey, SocketAddr>> {
    let text = std::str::from_utf8(bytes)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (id, addr) = line
                .split_once('@')
                .ok_or_else(|| anyhow!("bad peer line `{line}`"))?;
            Ok((PublicKey::from_str(id)?, SocketAddr::from_str(addr)?))
        })
        .collect()
}
