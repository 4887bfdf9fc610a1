//! The sandbox's test clocks (`GET /v1/test_clock`, `POST
//! /v1/test_clock/advance`): one per merchant, so advancing one bills only
//! that merchant.

use chrono::{DateTime, Duration, Utc};
use pushbill::app::Application;
use pushbill::billing::scheduler;
use pushbill::config::ClockMode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::support::app::{Api, TestApp, fresh_database, spawn_app, t0, test_settings};

/// The period starts of a subscription's invoices, in order.
async fn periods(app: &TestApp, sub: &str) -> Vec<DateTime<Utc>> {
    app.invoices_of(sub)
        .await
        .iter()
        .map(|i| i.period_start.expect("a period invoice"))
        .collect()
}

fn time(value: &serde_json::Value) -> DateTime<Utc> {
    value.as_str().expect("a timestamp").parse().unwrap()
}

/// Two merchants in one sandbox, each with a monthly subscription from t0.
async fn two_merchants(app: &TestApp) -> [(Api, String); 2] {
    let mut merchants = Vec::new();
    for _ in 0..2 {
        let api = app.api().await;
        let plan = api.monthly_plan().await;
        let customer = api.customer().await;
        let sub = api.subscription(&customer, &plan).await;
        merchants.push((api, sub));
    }
    app.pay_all_open().await;
    merchants.try_into().ok().unwrap()
}

#[tokio::test]
async fn advancing_the_test_clock_bills_the_next_period() {
    let app = spawn_app().await;
    let api = app.api().await;
    let plan = api.monthly_plan().await;
    let customer = api.customer().await;
    let sub = api.subscription(&customer, &plan).await;
    assert_eq!(app.invoices_of(&sub).await.len(), 1);
    app.pay_all_open().await;

    let r = api
        .post("/v1/test_clock/advance", json!({"seconds": 86_400}))
        .await;
    assert_eq!(
        (r.status, r.body["now"].clone()),
        (200, json!("2027-12-02T00:00:00Z")),
        "{r:?}"
    );
    assert_eq!(app.invoices_of(&sub).await.len(), 1);

    let r = api
        .post(
            "/v1/test_clock/advance",
            json!({"to": "2028-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.body["now"], "2028-01-01T00:00:00Z");
    let invoices = app.invoices_of(&sub).await;
    assert_eq!(invoices.len(), 2);
    assert_eq!(
        invoices[1].period_start,
        Some("2028-01-01T00:00:00Z".parse().unwrap())
    );
    let r = api.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["current_period_end"], "2028-02-01T00:00:00Z");

    let r = api
        .post(
            "/v1/test_clock/advance",
            json!({"to": "2027-12-01T00:00:00Z"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "to"), "never backwards");
    let r = api
        .post(
            "/v1/test_clock/advance",
            json!({"seconds": 1, "to": "2029-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn advancing_one_merchants_test_clock_bills_only_that_merchant() {
    let app = spawn_app().await;
    let [(a, a_sub), (b, b_sub)] = two_merchants(&app).await;
    let month = 31 * 86_400 + 3_600;
    let a_time = a.advance(month).await;
    assert_eq!(a_time, t0() + Duration::seconds(month));
    assert_eq!(a.test_clock().await, a_time);
    let second = "2028-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(periods(&app, &a_sub).await, [t0(), second]);
    // B's clock has not moved and nothing of B's was billed.
    assert_eq!(b.test_clock().await, t0());
    assert_eq!(periods(&app, &b_sub).await, [t0()]);
    let r = b.get(&format!("/v1/subscriptions/{b_sub}")).await;
    assert_eq!(
        (
            time(&r.body["current_period_end"]),
            r.body["status"].clone()
        ),
        (second, json!("active")),
        "{r:?}"
    );
    // The deployment's clock (delivery) is never behind a merchant's.
    assert_eq!(app.now(), a_time);

    // What B makes now carries B's time.
    let customer = b.customer().await;
    let r = b.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(time(&r.body["created_at"]), t0(), "{r:?}");
    let plan = b.monthly_plan().await;
    let r = b
        .post(
            "/v1/subscriptions",
            json!({"customer": customer, "plan": plan}),
        )
        .await;
    assert_eq!(time(&r.body["created_at"]), t0(), "{r:?}");
    assert_eq!(time(&r.body["current_period_start"]), t0(), "{r:?}");
    let b_later = r.id();
    // ... and so does what A makes, at A's.
    let r = a
        .post("/v1/customers", json!({"email": "carol@example.com"}))
        .await;
    assert_eq!(time(&r.body["created_at"]), a_time, "{r:?}");
    // A payment is dated at its invoice's merchant's time.
    app.pay_all_open().await;
    let paid_at = |invoices: Vec<pushbill::store::invoices::Model>| invoices[0].paid_at;
    assert_eq!(paid_at(app.invoices_of(&b_later).await), Some(t0()));
    let a_second = app.invoices_of(&a_sub).await.pop().unwrap();
    assert_eq!(a_second.paid_at, Some(a_time));

    // Now B advances: B's subscriptions are billed, A's are not again.
    assert_eq!(b.advance(month).await, t0() + Duration::seconds(month));
    assert_eq!(periods(&app, &b_sub).await, [t0(), second]);
    assert_eq!(periods(&app, &b_later).await, [t0(), second]);
    assert_eq!(periods(&app, &a_sub).await, [t0(), second]);
    assert_eq!(a.test_clock().await, a_time);
    assert_eq!(app.now(), a_time);
    // Events of B's billing carry B's time.
    let events = b.get("/v1/events?type=invoice.created&limit=100").await;
    let created: Vec<DateTime<Utc>> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| time(&e["created_at"]))
        .collect();
    assert_eq!(
        created,
        [b.test_clock().await, b.test_clock().await, t0(), t0()],
        "{events:?}"
    );
}

#[tokio::test]
async fn the_schedulers_tick_bills_each_merchant_at_its_own_time() {
    let app = spawn_app().await;
    let [(a, a_sub), (b, b_sub)] = two_merchants(&app).await;
    // A's clock moves (and the deployment's with it) without a billing run,
    // as when the advancing process died before its run: the tick catches up.
    let a_time = t0() + Duration::days(31);
    app.context
        .clocks
        .advance_merchant(&app.db, &a.merchant_id, a_time)
        .await
        .unwrap();
    assert_eq!(app.now(), a_time);
    assert_eq!(periods(&app, &a_sub).await, [t0()]);

    scheduler::tick(&app.context).await;
    let second = "2028-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(periods(&app, &a_sub).await, [t0(), second]);
    assert_eq!(
        periods(&app, &b_sub).await,
        [t0()],
        "B is billed at B's time"
    );
    assert_eq!(b.test_clock().await, t0());
    // A merchant that never read its clock gets one at the deployment's time.
    let c = app.api().await;
    scheduler::tick(&app.context).await;
    assert_eq!(c.test_clock().await, a_time);
    assert_eq!(periods(&app, &b_sub).await, [t0()]);
}

#[tokio::test]
async fn a_merchants_clock_never_moves_backwards_and_the_deployments_never_falls_behind() {
    let app = spawn_app().await;
    let [(a, _), (b, _)] = two_merchants(&app).await;
    a.advance(86_400).await;
    // B moves less far than A: the deployment's clock stays at A's time.
    b.advance(3_600).await;
    assert_eq!(app.now(), t0() + Duration::days(1));
    let r = b
        .post(
            "/v1/test_clock/advance",
            json!({"to": "2027-12-01T00:30:00Z"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "to"), "{r:?}");
    assert_eq!(b.test_clock().await, t0() + Duration::hours(1));
    // Moving to A's time or past it is fine, and takes the deployment along.
    b.advance(2 * 86_400).await;
    assert_eq!(app.now(), t0() + Duration::hours(49));
    assert_eq!(a.test_clock().await, t0() + Duration::days(1));
}

#[tokio::test]
async fn without_the_test_clock_there_is_no_test_clock_to_read_or_move() {
    let database = fresh_database().await;
    let mut settings = test_settings(&database.url);
    settings.clock.mode = ClockMode::System;
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.context().db.clone();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let (merchant, key) = pushbill::catalog::merchants::create_with_api_key(
        &db,
        Utc::now(),
        "Bobflix",
        "BOB",
        pushbill::auth::api_keys::Mode::Test,
        false,
    )
    .await
    .unwrap();
    let api = Api {
        address,
        http: reqwest::Client::new(),
        merchant_id: merchant.id,
        key: key.secret,
    };
    let r = api.get("/v1/test_clock").await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"), "{r:?}");
    let r = api
        .post("/v1/test_clock/advance", json!({"seconds": 60}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    shutdown.cancel();
}
