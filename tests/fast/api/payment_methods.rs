//! /v1/subscriptions/{id}/payment_method: choosing how a subscription's
//! invoices are paid. Connecting a real wallet over a relay is in
//! tests/slow/lightning/nwc.rs; here, everything that is refused before or
//! without a wallet, and the other methods.

use serde_json::json;

use crate::support::app::{spawn_app, spawn_app_with};

/// A URI in the right form whose relay nobody listens on, with a secret
/// that must never come back.
const SECRET: &str = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";

fn unreachable_uri() -> String {
    format!(
        "nostr+walletconnect://b889ff5b1513b641e2a139f661a661364979c5beee91842f8f0ef42ab558e9d4\
         ?relay=ws%3A%2F%2F127.0.0.1%3A9&secret={SECRET}"
    )
}

#[tokio::test]
async fn the_method_is_push_by_default_and_can_be_manual_then_push_again() {
    let app = spawn_app().await;
    let api = app.api().await;
    let (customer, plan) = (api.customer().await, api.monthly_plan().await);
    let sub = api.subscription(&customer, &plan).await;
    let path = format!("/v1/subscriptions/{sub}/payment_method");

    let r = api.get(&path).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "payment_method");
    assert_eq!(r.body["method"], "push");
    assert_eq!(r.body["wallet_connection"], json!(null));
    assert_eq!(r.body["livemode"], false);
    assert_eq!(
        api.get(&format!("/v1/subscriptions/{sub}")).await.body["payment_method"],
        "push"
    );

    let r = api.post(&path, json!({"method": "manual"})).await;
    assert_eq!(
        (r.status, r.body["method"].clone()),
        (200, json!("manual")),
        "{r:?}"
    );
    assert_eq!(
        api.get(&format!("/v1/subscriptions/{sub}")).await.body["payment_method"],
        "manual"
    );
    let updated = api.get("/v1/events?type=subscription.updated").await;
    assert_eq!(
        updated.body["data"][0]["data"]["object"]["payment_method"], "manual",
        "{updated:?}"
    );
    let r = api.post(&path, json!({"method": "push"})).await;
    assert_eq!(r.body["method"], "push", "{r:?}");
}

#[tokio::test]
async fn bad_methods_and_uris_are_refused_at_their_field_and_the_secret_never_comes_back() {
    let app = spawn_app_with(|s| s.nwc.connect_timeout_secs = 2).await;
    let api = app.api().await;
    let (customer, plan) = (api.customer().await, api.monthly_plan().await);
    let sub = api.subscription(&customer, &plan).await;
    let path = format!("/v1/subscriptions/{sub}/payment_method");
    let cases = [
        (json!({}), "method"),
        (json!({"method": "card"}), "method"),
        (json!({"method": "NWC"}), "method"),
        (json!({"method": 7}), "method"),
        (json!({"method": "nwc"}), "nwc_uri"),
        (
            json!({"method": "push", "nwc_uri": unreachable_uri()}),
            "nwc_uri",
        ),
        (
            json!({"method": "nwc", "nwc_uri": "https://wallet.example"}),
            "nwc_uri",
        ),
        (
            json!({"method": "nwc", "nwc_uri": format!("nostr+walletconnect://nothex?secret={SECRET}")}),
            "nwc_uri",
        ),
        (
            json!({"method": "nwc", "nwc_uri": "x".repeat(2_001)}),
            "nwc_uri",
        ),
        (
            json!({"method": "nwc", "nwc_uri": "nostr+walletconnect://\u{202e}"}),
            "nwc_uri",
        ),
        // The right form, but no wallet answers on its relay.
        (
            json!({"method": "nwc", "nwc_uri": unreachable_uri()}),
            "nwc_uri",
        ),
    ];
    for (body, field) in cases {
        let r = api.post(&path, body.clone()).await;
        assert_eq!((r.status, r.param()), (400, field), "{body}: {r:?}");
        assert!(
            !r.body.to_string().contains(SECRET),
            "{body}: the secret came back: {}",
            r.body
        );
    }
    let r = api
        .post(&path, json!({"method": "nwc", "nwc_uri": "a\u{0}b"}))
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r.body.to_string().contains("nwc_uri"), "{r:?}");
    // Nothing changed.
    let r = api.get(&path).await;
    assert_eq!(
        (
            r.body["method"].clone(),
            r.body["wallet_connection"].clone()
        ),
        (json!("push"), json!(null))
    );
}

#[tokio::test]
async fn another_merchants_subscription_is_not_found_and_a_canceled_one_takes_no_method() {
    let app = spawn_app().await;
    let (api, other) = (app.api().await, app.api().await);
    let (customer, plan) = (api.customer().await, api.monthly_plan().await);
    let sub = api.subscription(&customer, &plan).await;
    let path = format!("/v1/subscriptions/{sub}/payment_method");
    assert_eq!(other.get(&path).await.status, 404);
    let r = other.post(&path, json!({"method": "manual"})).await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(api.get(&path).await.body["method"], "push");

    api.post(&format!("/v1/subscriptions/{sub}/cancel"), json!({}))
        .await;
    let r = api.post(&path, json!({"method": "manual"})).await;
    assert_eq!(
        (r.status, r.code()),
        (409, "subscription_canceled"),
        "{r:?}"
    );
}

/// Off the sandbox and regtest, a relay must be a public `wss://` address:
/// pushbill does not open connections into its own network for anyone who
/// pastes a URI (the webhook sender's SSRF guard).
#[tokio::test]
async fn relays_on_internal_addresses_are_refused_unless_allowed() {
    let app = spawn_app_with(|s| s.nwc.allow_private_relays = Some(false)).await;
    let api = app.api().await;
    let (customer, plan) = (api.customer().await, api.monthly_plan().await);
    let sub = api.subscription(&customer, &plan).await;
    let path = format!("/v1/subscriptions/{sub}/payment_method");
    let wallet = "b889ff5b1513b641e2a139f661a661364979c5beee91842f8f0ef42ab558e9d4";
    for (relay, says) in [
        ("ws%3A%2F%2Frelay.example.com", "must use wss://"),
        (
            "wss%3A%2F%2F127.0.0.1%3A7777",
            "127.0.0.1 is not a public address",
        ),
        ("wss%3A%2F%2F10.1.2.3", "10.1.2.3 is not a public address"),
        ("wss%3A%2F%2F%5B%3A%3A1%5D", "::1 is not a public address"),
        (
            "wss%3A%2F%2F169.254.169.254",
            "169.254.169.254 is not a public address",
        ),
    ] {
        let uri = format!("nostr+walletconnect://{wallet}?relay={relay}&secret={SECRET}");
        let r = api
            .post(&path, json!({"method": "nwc", "nwc_uri": uri}))
            .await;
        assert_eq!((r.status, r.param()), (400, "nwc_uri"), "{relay}: {r:?}");
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{relay}: {message}");
        assert!(!r.body.to_string().contains(SECRET));
    }
}

/// A wallet is asked `get_info` when it is connected, over a real relay:
/// one that refuses it (as Primal does on some connections) is connected
/// from the methods of its info event; one that cannot `pay_invoice`, one on
/// another network and one that never answers are refused at `nwc_uri`.
#[tokio::test]
async fn wallets_are_checked_over_the_relay_when_connected() {
    use std::sync::Arc;

    use crate::support::nwc::{Relay, ScriptedWallet, info};

    let app = spawn_app_with(|s| s.nwc.connect_timeout_secs = 3).await;
    let api = app.api().await;
    let (customer, plan) = (api.customer().await, api.monthly_plan().await);
    let sub = api.subscription(&customer, &plan).await;
    let path = format!("/v1/subscriptions/{sub}/payment_method");
    let relay = Relay::start().await;
    let connect = |uri: String| {
        let (api, path) = (&api, &path);
        async move {
            api.post(path, json!({"method": "nwc", "nwc_uri": uri}))
                .await
        }
    };

    let read_only = ScriptedWallet::start(
        &relay.url,
        "get_info get_balance",
        Arc::new(|m, _| (m == "get_info").then(|| info(&["get_info", "get_balance"], "regtest"))),
    )
    .await;
    let r = connect(read_only.uri.clone()).await;
    assert_eq!((r.status, r.param()), (400, "nwc_uri"), "{r:?}");
    assert!(r.body.to_string().contains("cannot pay invoices"), "{r:?}");

    let mainnet = ScriptedWallet::start(
        &relay.url,
        "pay_invoice get_info",
        Arc::new(|m, _| (m == "get_info").then(|| info(&["pay_invoice", "get_info"], "mainnet"))),
    )
    .await;
    let r = connect(mainnet.uri.clone()).await;
    assert_eq!((r.status, r.param()), (400, "nwc_uri"), "{r:?}");
    assert!(
        r.body
            .to_string()
            .contains("the wallet is on mainnet, this deployment on regtest"),
        "{r:?}"
    );

    let silent = ScriptedWallet::start(&relay.url, "pay_invoice", Arc::new(|_, _| None)).await;
    let r = connect(silent.uri.clone()).await;
    assert_eq!((r.status, r.param()), (400, "nwc_uri"), "{r:?}");
    assert!(
        r.body
            .to_string()
            .contains("did not answer get_info (timeout)"),
        "{r:?}"
    );
    assert_eq!(
        api.get(&path).await.body["method"],
        "push",
        "nothing changed"
    );

    let restricted = ScriptedWallet::start(
        &relay.url,
        "pay_invoice get_balance",
        Arc::new(|m, _| {
            (m == "get_info").then(
                || json!({"code": "RESTRICTED", "message": "get_info method not in permissions"}),
            )
        }),
    )
    .await;
    let r = connect(restricted.uri.clone()).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["method"], "nwc");
    assert_eq!(
        r.body["wallet_connection"]["wallet_methods"],
        json!(["pay_invoice", "get_balance"])
    );
    assert_eq!(r.body["wallet_connection"]["wallet_alias"], json!(null));
    assert_eq!(
        r.body["wallet_connection"]["budget"],
        json!(null),
        "it offers no get_budget"
    );
    for wallet in [read_only, mainnet, silent, restricted] {
        wallet.stop().await;
    }
}
