//! `livemode` on every object the API answers, on every event and in every
//! webhook body: false on the sandbox, true on any other network. The same
//! tour of the API runs on a sandbox deployment and on a live (regtest) one.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::support::app::{Api, NODE, Reply, fresh_database, spawn_app, test_settings};
use crate::support::webhook_receiver::Receiver;
use push_protocol::grant::GrantId;
use push_protocol::subscribe::Window;
use pushbill::auth::api_keys::Mode;
use pushbill::billing::grants::{self, NewGrant};
use pushbill::context::Context;
use pushbill::notify::webhooks;
use pushbill::store::events::EventBatch;

const MERCHANT_NODE: &str = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";

/// One object of `kind`, with `livemode` exactly `livemode` (a missing
/// field is `null` here, and fails).
#[track_caller]
fn object(r: &Reply, kind: &str, livemode: bool) {
    assert_eq!(r.status, 200, "{kind}: {r:?}");
    assert_eq!(r.body["object"], kind, "{r:?}");
    assert_eq!(r.body["livemode"], json!(livemode), "{kind}: {r:?}");
}

/// A non-empty list of `kind` objects, each with `livemode`; the list itself
/// carries none (as Stripe's lists).
#[track_caller]
fn list(r: &Reply, kind: &str, livemode: bool) {
    assert_eq!(r.status, 200, "{kind} list: {r:?}");
    assert_eq!(r.body["object"], "list", "{r:?}");
    assert!(r.body.get("livemode").is_none(), "{r:?}");
    let data = r.body["data"].as_array().expect("data");
    assert!(!data.is_empty(), "{kind} list is empty: {r:?}");
    for o in data {
        assert_eq!(o["object"], kind, "{o}");
        assert_eq!(o["livemode"], json!(livemode), "{kind}: {o}");
    }
}

/// An event (as the API or a webhook body carries it) and its data object.
#[track_caller]
fn event_and_data(event: &Value, data: &Value, livemode: bool) {
    assert_eq!(event["livemode"], json!(livemode), "{event}");
    assert!(data.is_object(), "{event}");
    assert_eq!(data["livemode"], json!(livemode), "{event}");
}

/// Makes one object of every kind through the API (a grant as the subscribe
/// handshake makes it), and checks each answer, the events and the webhooks
/// delivered to a real receiver.
async fn tour(api: &Api, ctx: &Context, now: DateTime<Utc>, livemode: bool) {
    let receiver = Receiver::start().await;
    let r = api
        .post(
            "/v1/webhook_endpoints",
            json!({"url": receiver.url, "enabled_events": ["*"]}),
        )
        .await;
    object(&r, "webhook_endpoint", livemode);
    let endpoint = r.id();
    object(
        &api.get(&format!("/v1/webhook_endpoints/{endpoint}")).await,
        "webhook_endpoint",
        livemode,
    );
    list(
        &api.get("/v1/webhook_endpoints").await,
        "webhook_endpoint",
        livemode,
    );

    let r = api
        .post(
            "/v1/plans",
            json!({"name": "Monthly", "amount_msat": 10_000_000, "interval": "month"}),
        )
        .await;
    object(&r, "plan", livemode);
    let plan = r.id();
    object(
        &api.get(&format!("/v1/plans/{plan}")).await,
        "plan",
        livemode,
    );
    list(&api.get("/v1/plans").await, "plan", livemode);

    let r = api
        .post(
            "/v1/customers",
            json!({"email": "alice@example.com", "node_id": NODE}),
        )
        .await;
    object(&r, "customer", livemode);
    let customer = r.id();
    let path = format!("/v1/customers/{customer}");
    object(&api.get(&path).await, "customer", livemode);
    object(
        &api.post(&path, json!({"name": "Alice"})).await,
        "customer",
        livemode,
    );
    list(&api.get("/v1/customers").await, "customer", livemode);

    let r = api
        .post(
            "/v1/subscriptions",
            json!({"customer": customer, "plan": plan}),
        )
        .await;
    object(&r, "subscription", livemode);
    let sub = r.id();
    object(
        &api.get(&format!("/v1/subscriptions/{sub}")).await,
        "subscription",
        livemode,
    );
    list(
        &api.get("/v1/subscriptions").await,
        "subscription",
        livemode,
    );

    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1000}),
        )
        .await;
    object(&r, "invoice", livemode);
    let invoice = r.id();
    object(
        &api.get(&format!("/v1/invoices/{invoice}")).await,
        "invoice",
        livemode,
    );
    list(&api.get("/v1/invoices").await, "invoice", livemode);
    list(
        &api.get(&format!("/v1/invoices/{invoice}/payment_requests"))
            .await,
        "payment_request",
        livemode,
    );

    pushbill::store::node_identity::record(&ctx.db, now, MERCHANT_NODE, "127.0.0.1:9735")
        .await
        .unwrap();
    object(
        &api.post("/v1/subscribe_codes", json!({"plan": plan})).await,
        "subscribe_code",
        livemode,
    );

    let mut events = EventBatch::new();
    let grant = grants::create(
        &ctx.db,
        now,
        &api.merchant_id,
        NewGrant {
            customer_id: customer.clone(),
            subscription_id: Some(sub.clone()),
            grant_key: GrantId::random(),
            node_id: NODE.to_owned(),
            cap_msat: 10_000_000,
            window: Window::Month,
            per_invoice_max_msat: None,
            ends_at: None,
        },
        &mut events,
    )
    .await
    .unwrap();
    events.insert(&ctx.db).await.unwrap();
    object(
        &api.get(&format!("/v1/grants/{}", grant.id)).await,
        "grant",
        livemode,
    );
    list(&api.get("/v1/grants").await, "grant", livemode);

    object(
        &api.post(&format!("{path}/portal_links"), json!({})).await,
        "portal_link",
        livemode,
    );
    object(
        &api.get("/v1/settings/email").await,
        "email_settings",
        livemode,
    );
    object(
        &api.post("/v1/settings/email", json!({"unpaid_summary": "off"}))
            .await,
        "email_settings",
        livemode,
    );
    object(
        &api.get("/v1/settings/fiat").await,
        "fiat_settings",
        livemode,
    );
    object(
        &api.post(
            "/v1/settings/fiat",
            json!({"currency": "EUR", "per_btc": "90000"}),
        )
        .await,
        "fiat_settings",
        livemode,
    );

    list(&api.get("/v1/api_keys").await, "api_key", livemode);
    let r = api.post("/v1/api_keys", json!({"name": "second"})).await;
    object(&r, "api_key", livemode);
    object(
        &api.post(&format!("/v1/api_keys/{}/revoke", r.id()), json!({}))
            .await,
        "api_key",
        livemode,
    );

    // Events: the event and the object in its data.
    let r = api.get("/v1/events?limit=100").await;
    list(&r, "event", livemode);
    let kinds: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            event_and_data(e, &e["data"]["object"], livemode);
            e["data"]["object"]["object"].as_str().unwrap()
        })
        .collect();
    for kind in ["customer", "subscription", "invoice", "grant"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    let newest = r.body["data"][0]["id"].as_str().unwrap().to_owned();
    let r = api.get(&format!("/v1/events/{newest}")).await;
    object(&r, "event", livemode);
    event_and_data(&r.body, &r.body["data"]["object"], livemode);

    // Webhooks, to a real receiver: the body and its data object.
    let sender = webhooks::delivery::Sender::new(&ctx.settings).unwrap();
    webhooks::drain(ctx, &sender).await.expect("delivery");
    let received = receiver.received();
    assert!(received.len() >= 5, "{} webhooks", received.len());
    for message in &received {
        let body = message.json();
        event_and_data(&body, &body["data"], livemode);
    }

    let r = api
        .get(&format!("/v1/webhook_endpoints/{endpoint}/deliveries"))
        .await;
    list(&r, "webhook_delivery", livemode);
    let delivery = r.body["data"][0]["id"].as_str().unwrap().to_owned();
    list(
        &api.get(&format!("/v1/webhook_deliveries/{delivery}/attempts"))
            .await,
        "webhook_delivery_attempt",
        livemode,
    );
    object(
        &api.post(
            &format!("/v1/webhook_deliveries/{delivery}/replay"),
            json!({}),
        )
        .await,
        "webhook_delivery",
        livemode,
    );
    object(
        &api.post(
            &format!("/v1/webhook_endpoints/{endpoint}/rotate_secret"),
            json!({}),
        )
        .await,
        "webhook_endpoint",
        livemode,
    );
}

#[tokio::test]
async fn on_the_sandbox_every_object_event_and_webhook_says_livemode_false() {
    let app = spawn_app().await;
    let api = app.api().await;
    tour(&api, &app.context, app.now(), false).await;
    object(&api.get("/v1/test_clock").await, "test_clock", false);
    object(
        &api.post("/v1/test_clock/advance", json!({"seconds": 60}))
            .await,
        "test_clock",
        false,
    );
}

#[tokio::test]
async fn on_a_live_network_every_object_event_and_webhook_says_livemode_true() {
    let database = fresh_database().await;
    let mut settings = test_settings(&database.url);
    settings.app.network = pushbill::config::Network::Regtest;
    settings.clock.mode = pushbill::config::ClockMode::System;
    settings.clock.start = None;
    let app = pushbill::app::Application::build(settings)
        .await
        .expect("builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let ctx = app.context().clone();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let now = Utc::now();
    let (merchant, key) = pushbill::catalog::merchants::create_with_api_key(
        &ctx.db,
        now,
        "Live shop",
        "LIVE",
        Mode::Live,
        false,
    )
    .await
    .unwrap();
    assert!(key.secret.starts_with("pb_live_"));
    let api = Api {
        address,
        http: reqwest::Client::new(),
        merchant_id: merchant.id,
        key: key.secret,
    };
    tour(&api, &ctx, now, true).await;
    // The test clock is the sandbox's: not found here.
    let r = api.get("/v1/test_clock").await;
    assert_eq!(r.status, 404, "{r:?}");
    stop.cancel();
}
