//! The log test binary: one test, because it installs the process's global
//! log subscriber at TRACE for every crate (pushbill, payer, ln-node, LDK,
//! nostr-sdk, nwc, actix) and reads everything they wrote while a wallet
//! connection is made, refused, used to pay and removed. No NWC secret
//! (the URI's client secret, the wallet service's key) and no preimage may
//! appear in any line.

#[path = "../support/mod.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use support::deployment::Deployment;
use support::nwc::{Relay, secret_of, send_until_settled, sender, wallet_payer};

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_wallet_secret_or_preimage_is_ever_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let api = deployment.merchant("Shop", "SHOP").await;
    let relay = Relay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (payer, uri) = wallet_payer(&deployment, dir.path(), &relay, 100_000_000).await;
    let plan = api.monthly_plan().await;
    let customer = api
        .post("/v1/customers", json!({"email": "sub@example.com"}))
        .await
        .id();
    let sub = api.subscription(&customer, &plan).await;
    let path = format!("/v1/subscriptions/{sub}/payment_method");

    // Refused first (a wallet that is not there), then made.
    let elsewhere = uri.replace(
        &relay.url.replace(':', "%3A").replace('/', "%2F"),
        "ws%3A%2F%2F127.0.0.1%3A9",
    );
    let r = api
        .post(&path, json!({"method": "nwc", "nwc_uri": elsewhere}))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = api
        .post(&path, json!({"method": "nwc", "nwc_uri": uri}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    // Paid by the wallet.
    deployment.issue().await;
    let invoice = app.invoices_of(&sub).await.remove(0);
    let wallets = sender(app, Duration::from_secs(20), 3);
    send_until_settled(&deployment, &wallets, &invoice.id).await;
    deployment.wait_paid(&invoice.id).await;
    let r = api.post(&path, json!({"method": "manual"})).await;
    assert_eq!(r.status, 200, "{r:?}");

    let state = payer.state();
    let preimage = state
        .payments
        .values()
        .find_map(|p| p.preimage.clone())
        .expect("the wallet kept the preimage");
    let wallet_key = state.nwc_connections[0].wallet_secret.clone();
    let client_secret = secret_of(&uri);
    payer.stop().await;
    deployment.stop().await;

    let text = logs.text();
    // The capture works: the steps above are in it.
    for seen in ["wallet payment request tried", "nostr_sdk", "lightning"] {
        assert!(
            text.contains(seen),
            "`{seen}` not logged: is the capture on?"
        );
    }
    for (what, secret) in [
        ("the client secret", client_secret.as_str()),
        ("the wallet service's key", wallet_key.as_str()),
        ("the preimage", preimage.as_str()),
        ("the URI", "nostr+walletconnect://"),
    ] {
        let line = text
            .lines()
            .find(|l| l.to_lowercase().contains(&secret.to_lowercase()));
        assert!(
            line.is_none(),
            "{what} is logged: {}",
            line.unwrap_or_default()
        );
    }
}
