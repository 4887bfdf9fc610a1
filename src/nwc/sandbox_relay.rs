//! The sandbox's own nostr relay: `pushbill serve` on the sandbox chain runs
//! one in the process (nostr-sdk's local relay, in memory), so a newcomer's
//! wallet connections (`pushbill payer nwc new --sandbox ./data`) have a
//! relay without installing one. Never on a real network: there, the
//! subscriber's wallet names its relays. The tests' relay is this one too.

use std::net::SocketAddr;
use std::time::Duration;

use nostr_sdk::local_relay::LocalRelay;

/// A running relay; it stops when dropped.
pub struct SandboxRelay {
    relay: LocalRelay,
    pub addr: SocketAddr,
    /// `ws://<addr>`.
    pub url: String,
}

impl SandboxRelay {
    /// Listens on `listen`; when that port is taken, on a free port of the
    /// same address (the URL says which).
    pub async fn start(listen: SocketAddr) -> anyhow::Result<SandboxRelay> {
        match Self::bind(listen).await {
            Ok(relay) => Ok(relay),
            Err(e) => {
                tracing::warn!(%listen, error = %e, "the sandbox relay's port is taken; using a free one");
                let free =
                    std::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0))?.local_addr()?;
                Self::bind(free).await
            }
        }
    }

    /// Listens on exactly `addr` (a port of 0 is not taken: the relay
    /// would name port 0).
    pub async fn bind(addr: SocketAddr) -> anyhow::Result<SandboxRelay> {
        anyhow::ensure!(addr.port() != 0, "a relay needs a fixed port");
        let relay = LocalRelay::builder()
            .addr(addr.ip())
            .port(addr.port())
            .build();
        relay.run().await?;
        Ok(SandboxRelay {
            relay,
            addr,
            url: format!("ws://{addr}"),
        })
    }

    /// Stops it, and returns once its port refuses connections: nostr-sdk
    /// 0.45's `shutdown` wakes only the tasks waiting at that moment, so a
    /// listener busy accepting misses it and is asked again. False if it
    /// still listens after a second.
    pub async fn stop(&self) -> bool {
        for _ in 0..50 {
            self.relay.shutdown();
            tokio::time::sleep(Duration::from_millis(20)).await;
            if tokio::net::TcpStream::connect(self.addr).await.is_err() {
                return true;
            }
        }
        tracing::warn!(url = %self.url, "the sandbox relay did not stop");
        false
    }
}

impl Drop for SandboxRelay {
    fn drop(&mut self) {
        self.relay.shutdown();
    }
}
