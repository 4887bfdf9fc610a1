//! Nostr Wallet Connect in tests: a real relay in this process
//! (the sandbox's relay, nostr-sdk's local relay) on loopback that can be stopped and started
//! again on its port, and the merchant's wallet sender driven by the test.

use std::sync::Arc;
use std::time::Duration;

use pushbill::node::nwc_sender::NwcSender;
use pushbill::node::push_sender::PushPolicy;
use pushbill::nwc::sandbox_relay::SandboxRelay;

use crate::support::app::TestApp;

/// A relay on 127.0.0.1 (the sandbox's relay, in this process), which can
/// be stopped and started again on its port.
pub struct Relay {
    relay: Option<SandboxRelay>,
    pub port: u16,
    pub url: String,
}

impl Relay {
    pub async fn start() -> Relay {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let relay = SandboxRelay::start(free).await.expect("the relay runs");
        Relay {
            port: relay.addr.port(),
            url: relay.url.clone(),
            relay: Some(relay),
        }
    }

    /// Stops it: its listener and every open websocket close. Returns once
    /// its port refuses connections.
    pub async fn stop(&mut self) {
        if let Some(relay) = self.relay.take() {
            assert!(
                relay.stop().await,
                "the relay on port {} still takes connections",
                self.port
            );
        }
    }

    /// Starts a new relay on the same port (with an empty store, as a real
    /// relay that lost its ephemeral state).
    pub async fn restart(&mut self) {
        self.stop().await;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let relay = SandboxRelay::bind(addr)
            .await
            .expect("the relay runs again on its port");
        self.relay = Some(relay);
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

/// How a scripted wallet answers one request: the `result` or `error`
/// object of its response (`None`: it stays silent).
pub type Script = Arc<dyn Fn(&str, &serde_json::Value) -> Option<serde_json::Value> + Send + Sync>;

/// A NIP-47 wallet service that answers as its script says, for what a real
/// wallet does not do on demand (refuse `get_info`, lie about a preimage).
/// It speaks the protocol with nostr's own types and ciphers.
pub struct ScriptedWallet {
    client: nwc::prelude::Client,
    /// Its `nostr+walletconnect://` URI.
    pub uri: String,
}

impl ScriptedWallet {
    /// Serves on `relay`, advertising `methods` (space-separated) in its
    /// info event, both ciphers.
    pub async fn start(relay: &str, methods: &str, script: Script) -> ScriptedWallet {
        use nwc::prelude::*;
        let (wallet, app) = (Keys::generate(), Keys::generate());
        let url = RelayUrl::parse(relay).unwrap();
        let uri = NostrWalletConnectUri::new(
            wallet.public_key(),
            vec![url],
            app.secret_key().clone(),
            None,
        )
        .to_string();
        let client = Client::default();
        client.add_relay(relay).and_connect().await.unwrap();
        let mut notifications = client.notifications();
        let requests = Filter::new()
            .kind(Kind::WalletConnectRequest)
            .pubkey(wallet.public_key());
        client.subscribe(requests).await.unwrap();
        let info = EventBuilder::new(Kind::WalletConnectInfo, methods)
            .tag(Nip47Tag::Encryption(
                Nip47Ciphers::NIP44V2.add(Nip47Ciphers::NIP04),
            ))
            .finalize(&wallet)
            .unwrap();
        client.send_event(&info).await.unwrap();
        let answering = client.clone();
        tokio::spawn(async move {
            while let Some(n) = futures::StreamExt::next(&mut notifications).await {
                let ClientNotification::Event { event, .. } = n else {
                    continue;
                };
                let cipher = event
                    .tags
                    .iter()
                    .find_map(|t| match Nip47Tag::try_from(t).ok()? {
                        Nip47Tag::Encryption(c) => Some(c),
                    })
                    .unwrap_or(Nip47Ciphers::NIP04);
                let Ok(plain) = cipher.decrypt(wallet.secret_key(), &event.pubkey, &event.content)
                else {
                    continue;
                };
                let request: serde_json::Value = serde_json::from_str(&plain).unwrap_or_default();
                let method = request["method"].as_str().unwrap_or_default().to_owned();
                let Some(answer) = script(&method, &request["params"]) else {
                    continue;
                };
                let mut response = serde_json::json!({ "result_type": method });
                let key = if answer.get("code").is_some() {
                    "error"
                } else {
                    "result"
                };
                response[key] = answer;
                let content = cipher
                    .encrypt(wallet.secret_key(), &event.pubkey, &response.to_string())
                    .unwrap();
                let reply = EventBuilder::new(Kind::WalletConnectResponse, content)
                    .tag(Tag::public_key(event.pubkey))
                    .tag(Tag::event(event.id))
                    .finalize(&wallet)
                    .unwrap();
                let _ = answering.send_event(&reply).await;
            }
        });
        ScriptedWallet { client, uri }
    }

    pub async fn stop(&self) {
        self.client.shutdown().await;
    }
}

/// `get_info`'s result naming `methods` on `network`.
pub fn info(methods: &[&str], network: &str) -> serde_json::Value {
    serde_json::json!({"alias": "scripted", "network": network, "methods": methods, "notifications": []})
}

/// A subscriber's payer in `dir` with a channel to the deployment's node,
/// its wallet service reconnecting to relays every second, offering one
/// NIP-47 connection of `budget_msat` a month on `relay`: the payer and the
/// connection's URI.
pub async fn wallet_payer(
    deployment: &crate::support::deployment::Deployment,
    dir: &std::path::Path,
    relay: &Relay,
    budget_msat: u64,
) -> (Arc<payer::Payer>, String) {
    let options = payer::PayerOptions {
        nwc_relay_retry: Some(Duration::from_secs(1)),
        ..crate::support::deployment::payer_options(&deployment.app)
    };
    let payer = crate::support::deployment::payer_with_channel(deployment, dir, options).await;
    let uri = payer
        .nwc_connect(payer::NwcSpec {
            name: Some("Shop".into()),
            budget_msat,
            window: payer::state::BudgetWindow::Monthly,
            relays: vec![relay.url.clone()],
        })
        .await
        .expect("a wallet connection");
    (payer, uri)
}

/// Rounds of the wallet sender until the invoice's last attempt is no
/// longer queued; that attempt.
pub async fn send_until_settled(
    deployment: &crate::support::deployment::Deployment,
    sender: &NwcSender,
    invoice_id: &str,
) -> pushbill::store::push_attempts::Model {
    for _ in 0..60 {
        sender.run_once().await.unwrap();
        let attempt = deployment
            .pushes(invoice_id)
            .await
            .pop()
            .expect("an attempt");
        if attempt.status != "queued" {
            return attempt;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the wallet attempt stayed queued");
}
