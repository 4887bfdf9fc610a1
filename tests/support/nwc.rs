//! Nostr Wallet Connect in tests: a real relay in this process
//! (`nostr_sdk::local_relay`) on loopback that can be stopped and started
//! again on its port, and the merchant's wallet sender driven by the test.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use nostr_sdk::local_relay::LocalRelay;
use pushbill::node::nwc_sender::NwcSender;
use pushbill::node::push_sender::PushPolicy;

use crate::support::app::TestApp;

/// A relay on 127.0.0.1.
pub struct Relay {
    relay: Option<LocalRelay>,
    pub port: u16,
    pub url: String,
}

impl Relay {
    pub async fn start() -> Relay {
        let relay = LocalRelay::builder()
            .addr(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .build();
        relay.run().await.expect("the relay runs");
        let url = relay.url().await.to_string();
        let port = url::Url::parse(&url)
            .ok()
            .and_then(|u| u.port())
            .expect("the relay's port");
        Relay {
            relay: Some(relay),
            port,
            url: url.trim_end_matches('/').to_owned(),
        }
    }

    /// Stops it: its listener and every open websocket close.
    pub fn stop(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.shutdown();
        }
    }

    /// Starts a new relay on the same port (with an empty store, as a real
    /// relay that lost its ephemeral state).
    pub async fn restart(&mut self) {
        self.stop();
        let relay = LocalRelay::builder()
            .addr(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .port(self.port)
            .build();
        relay.run().await.expect("the relay runs again on its port");
        self.relay = Some(relay);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The node role's wallet sender on the test app's database and clock,
/// waiting `reply_timeout` for a wallet, trying `max_tries` times with no
/// back-off (the test drives the rounds).
pub fn sender(app: &TestApp, reply_timeout: Duration, max_tries: i32) -> NwcSender {
    NwcSender::new(
        app.db.clone(),
        app.clock.clone(),
        app.context.seal.clone(),
        PushPolicy {
            reply_timeout,
            max_tries,
            backoff: chrono::Duration::zero(),
            max_in_flight: 16,
        },
    )
}

/// The secret of a `nostr+walletconnect://` URI (its `secret` parameter).
pub fn secret_of(uri: &str) -> String {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "secret")
                .map(|(_, v)| v.into_owned())
        })
        .expect("a secret in the URI")
}
