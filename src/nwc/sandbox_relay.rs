//! The sandbox's own nostr relay: `pushbill serve` on the sandbox chain runs
//! one in the process (nostr-sdk's local relay, in memory), so a newcomer's
//! wallet connections (`pushbill payer nwc new --sandbox ./data`) have a
//! relay without installing one. Never on a real network: there, the
//! subscriber's wallet names its relays.

use std::net::SocketAddr;

use nostr_sdk::local_relay::LocalRelay;

/// A running relay; it stops when dropped.
pub struct SandboxRelay {
    relay: LocalRelay,
    pub url: String,
}

impl SandboxRelay {
    /// Listens on `listen`; when that port is taken, on a free port of the
    /// same address (the URL says which).
    pub async fn start(listen: SocketAddr) -> anyhow::Result<SandboxRelay> {
        let relay = match run_on(listen).await {
            Ok(relay) => relay,
            Err(e) => {
                tracing::warn!(%listen, error = %e, "the sandbox relay's port is taken; using a free one");
                let free =
                    std::net::TcpListener::bind(SocketAddr::new(listen.ip(), 0))?.local_addr()?;
                run_on(free).await?
            }
        };
        let url = relay
            .url()
            .await
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        Ok(SandboxRelay { relay, url })
    }

    /// Stops it, and returns once its port refuses connections: nostr-sdk
    /// 0.45's `shutdown` wakes only the tasks waiting at that moment, so a
    /// listener busy accepting misses it and is asked again.
    pub async fn stop(&self) {
        let Some(addr) = url::Url::parse(&self.url)
            .ok()
            .and_then(|u| Some((u.host_str()?.to_owned(), u.port()?)))
        else {
            self.relay.shutdown();
            return;
        };
        for _ in 0..50 {
            self.relay.shutdown();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if tokio::net::TcpStream::connect((addr.0.as_str(), addr.1))
                .await
                .is_err()
            {
                return;
            }
        }
        tracing::warn!(url = %self.url, "the sandbox relay did not stop");
    }
}

async fn run_on(addr: SocketAddr) -> anyhow::Result<LocalRelay> {
    let relay = LocalRelay::builder()
        .addr(addr.ip())
        .port(addr.port())
        .build();
    relay.run().await?;
    Ok(relay)
}

impl Drop for SandboxRelay {
    fn drop(&mut self) {
        self.relay.shutdown();
    }
}
