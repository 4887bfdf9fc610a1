//! Webhooks end to end: a real receiver on loopback, the real delivery code,
//! the test clock moving retries along.

use chrono::Duration;
use serde_json::{Value, json};

use crate::support::app::{Api, TestApp, endpoint, spawn_app};
use crate::support::webhook_receiver::{Answer, Receiver, verify};

async fn customer(api: &Api, email: &str) -> String {
    let r = api.post("/v1/customers", json!({"email": email})).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.id()
}

async fn deliveries(api: &Api, endpoint: &str) -> Vec<Value> {
    let r = api
        .get(&format!(
            "/v1/webhook_endpoints/{endpoint}/deliveries?limit=100"
        ))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_event_of_a_subscriptions_life_arrives_signed_in_order_with_its_object() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(&api, &receiver.url, json!(["*"])).await;

    let plan = api
        .post(
            "/v1/plans",
            json!({"name": "Monthly", "amount_msat": 10_000_000, "interval": "month", "trial_period_days": 7}),
        )
        .await
        .id();
    let customer = api.customer().await;
    let sub = api
        .post(
            "/v1/subscriptions",
            json!({"customer": customer, "plan": plan, "trial_period_days": 7}),
        )
        .await;
    assert_eq!(sub.status, 200, "{sub:?}");
    assert_eq!(sub.body["status"], "trialing");
    let sub = sub.id();
    app.deliver_webhooks().await;
    // Through the trial's end and two periods, delivering as time passes.
    for _ in 0..3 {
        api.advance(8 * 86_400).await;
        app.deliver_webhooks().await;
    }
    for _ in 0..2 {
        api.advance(31 * 86_400).await;
        app.deliver_webhooks().await;
    }
    let r = api
        .post(&format!("/v1/subscriptions/{sub}/cancel"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    app.deliver_webhooks().await;

    // The merchant's events, oldest first, as the API lists them.
    let events = api.get("/v1/events?limit=100").await;
    let mut events: Vec<Value> = events.body["data"].as_array().unwrap().clone();
    events.reverse();
    let received = receiver.received();
    assert_eq!(
        received.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        events
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        "every event arrives once, in order"
    );
    for (msg, event) in received.iter().zip(&events) {
        assert!(verify(&secret, msg), "valid signature on {}", msg.id);
        let body = msg.json();
        assert_eq!(body["type"], event["type"]);
        assert_eq!(body["data"], event["data"]["object"]);
        assert_eq!(body["timestamp"], event["created_at"]);
    }
    let types: Vec<String> = received.iter().map(|r| r.event_type()).collect();
    for expected in [
        "customer.created",
        "subscription.created",
        "subscription.updated",
        "invoice.created",
        "subscription.canceled",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "{expected} in {types:?}"
        );
    }
    let first = |t: &str| types.iter().position(|x| x == t).unwrap();
    assert!(first("customer.created") < first("subscription.created"));
    assert!(first("subscription.created") < first("invoice.created"));
    assert_eq!(types.last().unwrap(), "subscription.canceled");
    // The subscription object in the last message is the canceled one.
    assert_eq!(received.last().unwrap().json()["data"]["id"], json!(sub));
    assert_eq!(
        received.last().unwrap().json()["data"]["status"],
        "canceled"
    );
    // A wrong secret does not verify.
    assert!(!verify(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        &received[0]
    ));
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_three_times_with_the_same_id() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::status(500), Answer::status(500)]);
    let (endpoint_id, secret) = endpoint(&api, &receiver.url, json!(["*"])).await;
    customer(&api, "bob@example.com").await;

    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 1);
    // The retry waits its turn: 5 s (plus jitter) on the service's clock.
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 1);
    app.clock.advance(Duration::seconds(6)).unwrap();
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 2);
    // Then 5 minutes.
    app.clock.advance(Duration::seconds(60)).unwrap();
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 2);
    let pending = &deliveries(&api, &endpoint_id).await[0];
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["attempt_count"], 2);
    assert_eq!(pending["last_status_code"], 500);
    assert_eq!(pending["last_response_excerpt"], "answer 500");
    app.clock.advance(Duration::seconds(6 * 60)).unwrap();
    app.deliver_webhooks().await;

    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.id == received[0].id));
    assert!(received[0].id.starts_with("evt_"));
    assert!(received.iter().all(|r| verify(&secret, r)));
    assert!(received.iter().all(|r| r.body == received[0].body));
    let done = &deliveries(&api, &endpoint_id).await[0];
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["attempt_count"], 3);
    assert_eq!(done["last_status_code"], 200);
    assert_eq!(done["next_attempt_at"], Value::Null);
    assert!(done["last_latency_ms"].as_i64().unwrap() >= 0);
    assert_eq!(done["event"], json!(received[0].id));

    // Each attempt is kept, newest first.
    let delivery = done["id"].as_str().unwrap();
    let r = api
        .get(&format!("/v1/webhook_deliveries/{delivery}/attempts"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let attempts = r.body["data"].as_array().unwrap();
    let summary: Vec<(i64, i64, &str)> = attempts
        .iter()
        .map(|a| {
            (
                a["attempt_number"].as_i64().unwrap(),
                a["status_code"].as_i64().unwrap(),
                a["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (3, 200, "succeeded"),
            (2, 500, "pending"),
            (1, 500, "pending")
        ]
    );
    assert!(
        attempts
            .iter()
            .all(|a| a["object"] == "webhook_delivery_attempt"
                && a["delivery"] == delivery
                && a["endpoint"] == json!(endpoint_id)
                && a["id"].as_str().unwrap().starts_with("wda_"))
    );
    assert_eq!(attempts[1]["response_excerpt"], "answer 500");
    assert_eq!(attempts[0]["attempted_at"], done["last_attempt_at"]);
    assert!(attempts[0]["attempted_at"].as_str() > attempts[2]["attempted_at"].as_str());
    // Paginated like every list.
    let r = api
        .get(&format!(
            "/v1/webhook_deliveries/{delivery}/attempts?limit=2"
        ))
        .await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["has_more"], true);
    let last = r.body["data"][1]["id"].as_str().unwrap();
    let r = api
        .get(&format!(
            "/v1/webhook_deliveries/{delivery}/attempts?limit=2&starting_after={last}"
        ))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["data"][0]["attempt_number"], 1);
    assert_eq!(r.body["has_more"], false);
}

#[tokio::test]
async fn retry_after_is_honoured_when_longer_than_the_schedule() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer {
        status: 503,
        retry_after: Some("3600".into()),
        hang: false,
        body: None,
    }]);
    let (endpoint_id, _) = endpoint(&api, &receiver.url, json!(["*"])).await;
    customer(&api, "bob@example.com").await;
    app.deliver_webhooks().await;
    let d = &deliveries(&api, &endpoint_id).await[0];
    let next: chrono::DateTime<chrono::Utc> =
        d["next_attempt_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(next, app.now() + Duration::seconds(3600));
    // Past the schedule's 5 s and 5 min: still waiting.
    app.clock.advance(Duration::seconds(30 * 60)).unwrap();
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 1);
    app.clock.advance(Duration::seconds(31 * 60)).unwrap();
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 2);
}

#[tokio::test]
async fn a_410_disables_the_endpoint_and_records_an_event() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::status(410)]);
    let (endpoint_id, _) = endpoint(&api, &receiver.url, json!(["customer.created"])).await;
    customer(&api, "bob@example.com").await;
    app.deliver_webhooks().await;
    let e = api
        .get(&format!("/v1/webhook_endpoints/{endpoint_id}"))
        .await;
    assert_eq!(e.body["status"], "disabled");
    assert!(e.body["disabled_reason"].as_str().unwrap().contains("410"));
    assert_eq!(deliveries(&api, &endpoint_id).await[0]["status"], "failed");
    let events = api.get("/v1/events?type=webhook_endpoint.disabled").await;
    assert_eq!(events.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        events.body["data"][0]["data"]["object"]["id"],
        json!(endpoint_id)
    );

    // Nothing more goes to it, even after time passes.
    customer(&api, "carol@example.com").await;
    app.clock.advance(Duration::days(1)).unwrap();
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 1);
    // Enabled again, it hears about what happens next.
    let r = api
        .post(
            &format!("/v1/webhook_endpoints/{endpoint_id}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.body["status"], "enabled", "{r:?}");
    customer(&api, "dave@example.com").await;
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 2);
    assert_eq!(
        receiver.received()[1].json()["data"]["email"],
        "dave@example.com"
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    receiver.script((0..100).map(|_| Answer::status(500)));
    let (endpoint_id, _) = endpoint(&api, &receiver.url, json!(["*"])).await;
    // A new event every day keeps the endpoint failing.
    for day in 0..6 {
        customer(&api, &format!("c{day}@example.com")).await;
        app.deliver_webhooks().await;
        let e = api
            .get(&format!("/v1/webhook_endpoints/{endpoint_id}"))
            .await;
        let expected = if day < 5 { "enabled" } else { "disabled" };
        assert_eq!(e.body["status"], expected, "day {day}: {e:?}");
        app.clock.advance(Duration::days(1)).unwrap();
    }
    let e = api
        .get(&format!("/v1/webhook_endpoints/{endpoint_id}"))
        .await;
    assert!(
        e.body["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("5 days")
    );
    let events = api.get("/v1/events?type=webhook_endpoint.disabled").await;
    assert_eq!(events.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn endpoints_get_only_the_event_types_they_asked_for() {
    let app = spawn_app().await;
    let api = app.api().await;
    let only_created = Receiver::start().await;
    let everything = Receiver::start().await;
    endpoint(&api, &only_created.url, json!(["customer.created"])).await;
    endpoint(&api, &everything.url, json!(["*"])).await;
    let c = customer(&api, "bob@example.com").await;
    let r = api
        .post(&format!("/v1/customers/{c}"), json!({"name": "Bob"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    app.deliver_webhooks().await;
    let types =
        |r: &Receiver| -> Vec<String> { r.received().iter().map(|m| m.event_type()).collect() };
    assert_eq!(types(&only_created), ["customer.created"]);
    assert_eq!(types(&everything), ["customer.created", "customer.updated"]);
}

#[tokio::test]
async fn an_endpoint_hears_only_of_events_after_it_was_created() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    customer(&api, "before@example.com").await;
    app.advance(Duration::seconds(1)).await;
    endpoint(&api, &receiver.url, json!(["*"])).await;
    customer(&api, "after@example.com").await;
    app.deliver_webhooks().await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["data"]["email"], "after@example.com");
}

#[tokio::test]
async fn replay_sends_a_delivery_again_with_the_same_id() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = endpoint(&api, &receiver.url, json!(["*"])).await;
    customer(&api, "bob@example.com").await;
    app.deliver_webhooks().await;
    let delivery = deliveries(&api, &endpoint_id).await[0].clone();
    assert_eq!(delivery["status"], "succeeded");
    let id = delivery["id"].as_str().unwrap();

    let other = app.api().await;
    let r = other
        .post(&format!("/v1/webhook_deliveries/{id}/replay"), json!({}))
        .await;
    assert_eq!(r.status, 404, "another merchant's delivery: {r:?}");
    let r = api
        .post(&format!("/v1/webhook_deliveries/{id}/replay"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "pending");
    app.deliver_webhooks().await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id, got[1].id);
    assert!(verify(&secret, &got[1]));
    let after = &deliveries(&api, &endpoint_id).await[0];
    assert_eq!(after["status"], "succeeded");
    assert_eq!(after["attempt_count"], 2);
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_until_it_expires() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    let (endpoint_id, old) = endpoint(&api, &receiver.url, json!(["*"])).await;
    let r = api
        .post(
            &format!("/v1/webhook_endpoints/{endpoint_id}/rotate_secret"),
            json!({"expires_in": 3600}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let new = r.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("whsec_"));
    assert_eq!(
        r.body["previous_secret_expires_at"],
        json!(
            (app.now() + Duration::seconds(3600))
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
    );

    customer(&api, "bob@example.com").await;
    app.deliver_webhooks().await;
    let msg = &receiver.received()[0];
    let signatures: Vec<&str> = msg.signature.split(' ').collect();
    assert_eq!(signatures.len(), 2, "{}", msg.signature);
    assert!(verify(&new, msg) && verify(&old, msg));
    // Each signature on its own is valid for one of the secrets.
    for sig in &signatures {
        let single = crate::support::webhook_receiver::Received {
            signature: (*sig).to_owned(),
            ..msg.clone()
        };
        assert!(verify(&new, &single) ^ verify(&old, &single));
    }

    app.clock.advance(Duration::seconds(3601)).unwrap();
    customer(&api, "carol@example.com").await;
    app.deliver_webhooks().await;
    let msg = &receiver.received()[1];
    assert_eq!(msg.signature.split(' ').count(), 1);
    assert!(verify(&new, msg));
    assert!(!verify(&old, msg));
}

/// The worker role on its own: events become deliveries and arrive without
/// anyone driving the queue.
#[tokio::test]
async fn the_worker_role_delivers_by_itself() {
    let app = spawn_worker_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    let (_, secret) = endpoint(&api, &receiver.url, json!(["*"])).await;
    customer(&api, "bob@example.com").await;
    customer(&api, "carol@example.com").await;
    crate::support::wait::wait_until(
        "two deliveries",
        std::time::Duration::from_secs(60),
        || async { receiver.count() >= 2 },
    )
    .await;
    let got = receiver.received();
    assert!(got.iter().all(|m| verify(&secret, m)));
    assert_eq!(got[0].json()["data"]["email"], "bob@example.com");
    assert_eq!(got[1].json()["data"]["email"], "carol@example.com");
}

/// One endpoint that never answers does not hold up another's messages.
#[tokio::test]
async fn a_hanging_endpoint_does_not_delay_the_others() {
    let app = spawn_worker_app().await;
    let api = app.api().await;
    let slow = Receiver::start().await;
    slow.script((0..10).map(|_| Answer {
        status: 200,
        retry_after: None,
        hang: true,
        body: None,
    }));
    let fast = Receiver::start().await;
    endpoint(&api, &slow.url, json!(["*"])).await;
    endpoint(&api, &fast.url, json!(["*"])).await;
    for i in 0..5 {
        customer(&api, &format!("c{i}@example.com")).await;
    }
    crate::support::wait::wait_until(
        "the fast endpoint to get every message",
        std::time::Duration::from_secs(60),
        || async { fast.count() >= 5 },
    )
    .await;
    // The slow endpoint has one message, hanging: one in flight per endpoint.
    assert_eq!(slow.count(), 1);
    slow.open_gate();
}

async fn spawn_worker_app() -> TestApp {
    crate::support::app::spawn_app_with(|s| {
        s.app.roles = vec![pushbill::config::Role::Web, pushbill::config::Role::Worker];
        s.webhooks.poll_interval_ms = 20;
    })
    .await
}

/// A long backlog on one endpoint does not hide another endpoint's message,
/// and a second claimer (another process) gets nothing while both are in flight.
#[tokio::test]
async fn claims_take_one_message_per_endpoint_past_a_backlog() {
    use pushbill::notify::webhooks::{delivery, fanout};
    let app = spawn_app().await;
    let api = app.api().await;
    let (a, _) = endpoint(&api, "http://127.0.0.1:9/a", json!(["*"])).await;
    for i in 0..20 {
        customer(&api, &format!("c{i}@example.com")).await;
    }
    fanout::fan_out(&app.db, app.now(), 100, None)
        .await
        .unwrap();
    app.advance(Duration::seconds(1)).await;
    let (b, _) = endpoint(&api, "http://127.0.0.1:9/b", json!(["*"])).await;
    customer(&api, "late@example.com").await;
    fanout::fan_out(&app.db, app.now(), 100, None)
        .await
        .unwrap();

    let none = std::collections::HashSet::new();
    let claim = || {
        delivery::claim_due(
            &app.db,
            app.now(),
            chrono::Utc::now(),
            Duration::seconds(60),
            2,
            &none,
        )
    };
    let claimed = claim().await.unwrap();
    let mut endpoints: Vec<&str> = claimed.iter().map(|c| c.endpoint.id.as_str()).collect();
    endpoints.sort();
    let mut expected = [a.as_str(), b.as_str()];
    expected.sort();
    assert_eq!(endpoints, expected);
    // A's oldest message first.
    let first_a = claimed.iter().find(|c| c.endpoint.id == a).unwrap();
    assert_eq!(first_a.event.data["email"], "c0@example.com");
    assert!(
        claim().await.unwrap().is_empty(),
        "one in flight per endpoint"
    );
}

/// The start of a gzip stream: NUL bytes and bytes that are not UTF-8.
const GZIP: &[u8] = &[
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
];

/// A receiver answering binary (here: gzip) bodies. Each attempt is recorded
/// with a storable excerpt, the delivery backs off along its schedule, and
/// fails once the schedule runs out, on PostgreSQL too (which cannot store a
/// NUL character in text).
#[tokio::test]
async fn a_binary_answer_is_recorded_and_the_delivery_backs_off_then_fails() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    let schedule = app.context.settings.webhooks.retry_schedule_secs.clone();
    receiver.script(schedule.iter().map(|_| Answer::bytes(500, GZIP)));
    let (endpoint_id, _) = endpoint(&api, &receiver.url, json!(["*"])).await;
    customer(&api, "bob@example.com").await;

    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 1);
    let first = &deliveries(&api, &endpoint_id).await[0];
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["attempt_count"], 1);
    assert_eq!(first["last_status_code"], 500);
    let excerpt = first["last_response_excerpt"].as_str().unwrap();
    assert!(!excerpt.contains('\0'), "{excerpt:?}");
    assert!(excerpt.contains('\u{FFFD}'), "{excerpt:?}");
    assert!(first["next_attempt_at"].as_str() > Some(app.now().to_rfc3339().as_str()));
    // Backing off: not sent again before its time.
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 1);

    for _ in 1..schedule.len() {
        // Past the longest step, with its jitter.
        app.clock.advance(Duration::hours(11)).unwrap();
        app.deliver_webhooks().await;
    }
    assert_eq!(receiver.count(), schedule.len());
    let done = &deliveries(&api, &endpoint_id).await[0];
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["attempt_count"], schedule.len());
    assert_eq!(done["next_attempt_at"], Value::Null);
    let delivery = done["id"].as_str().unwrap();
    let r = api
        .get(&format!(
            "/v1/webhook_deliveries/{delivery}/attempts?limit=100"
        ))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["data"].as_array().unwrap().len(), schedule.len());
    app.clock.advance(Duration::days(1)).unwrap();
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), schedule.len());
}

/// An attempt whose details the database refuses (PostgreSQL and a NUL
/// character) is recorded without them: it still counts, so the delivery
/// backs off instead of being resent every lease.
#[tokio::test]
async fn an_attempt_that_cannot_be_recorded_whole_still_counts() {
    use pushbill::notify::webhooks::delivery::{self, Attempt};
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    let (endpoint_id, _) = endpoint(&api, &receiver.url, json!(["*"])).await;
    customer(&api, "bob@example.com").await;
    pushbill::notify::webhooks::fanout::fan_out(&app.db, app.now(), 100, None)
        .await
        .unwrap();
    let claimed = delivery::claim_due(
        &app.db,
        app.now(),
        chrono::Utc::now(),
        Duration::seconds(60),
        10,
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let attempt = Attempt {
        status: Some(500),
        latency_ms: 3,
        excerpt: Some("bad\0bytes".into()),
        error: Some("endpoint answered 500\0".into()),
        retry_after: None,
    };
    let schedule = &app.context.settings.webhooks.retry_schedule_secs;
    delivery::record(&app.db, app.now(), schedule, &claimed[0], &attempt)
        .await
        .unwrap();
    let d = &deliveries(&api, &endpoint_id).await[0];
    assert_eq!(d["status"], "pending", "{d}");
    assert_eq!(d["attempt_count"], 1);
    assert_eq!(d["last_status_code"], 500);
    assert!(d["next_attempt_at"].as_str() > Some(app.now().to_rfc3339().as_str()));
    // Not resent at once: it waits for its retry.
    app.deliver_webhooks().await;
    assert_eq!(receiver.count(), 0);
}
