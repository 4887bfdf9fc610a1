//! /v1/webhook_endpoints: validation, secrets shown once, pagination,
//! tenant isolation, and the SSRF guard.

use pushbill::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use pushbill::store::webhook_endpoints;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::json;

use crate::support::app::endpoint;
use crate::support::app::{spawn_app, spawn_app_with};
use crate::support::webhook_receiver::Receiver;

const URL: &str = "http://127.0.0.1:9/hook";

#[tokio::test]
async fn create_get_list_update_delete() {
    let app = spawn_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/webhook_endpoints",
            json!({"url": URL, "enabled_events": ["invoice.paid", "invoice.unpaid"], "description": "billing"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "webhook_endpoint");
    assert_eq!(
        r.body["enabled_events"],
        json!(["invoice.paid", "invoice.unpaid"])
    );
    assert_eq!(r.body["status"], "enabled");
    assert!(r.body["secret"].as_str().unwrap().starts_with("whsec_"));
    let id = r.id();
    assert!(id.starts_with(WebhookEndpointId::PREFIX));

    let got = api.get(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("secret").is_none(), "the secret is shown once");
    assert_eq!(got.body["description"], "billing");

    let r = api
        .post(
            &format!("/v1/webhook_endpoints/{id}"),
            json!({"enabled_events": ["*"], "description": null, "enabled": false, "url": "http://127.0.0.1:10/x"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["enabled_events"], json!(["*"]));
    assert_eq!(r.body["description"], json!(null));
    assert_eq!(r.body["status"], "disabled");
    assert_eq!(r.body["url"], "http://127.0.0.1:10/x");
    assert!(r.body.get("secret").is_none());

    for _ in 0..2 {
        endpoint(&api, URL, json!(["*"])).await;
    }
    let page = api.get("/v1/webhook_endpoints?limit=2").await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(page.body["has_more"], true);
    let last = page.body["data"][1]["id"].as_str().unwrap();
    let next = api
        .get(&format!(
            "/v1/webhook_endpoints?limit=2&starting_after={last}"
        ))
        .await;
    assert_eq!(next.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(next.body["data"][0]["id"], json!(id));
    assert_eq!(next.body["has_more"], false);

    let r = api.delete(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["deleted"], true);
    let r = api.get(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let app = spawn_app().await;
    let api = app.api().await;
    for (body, param) in [
        (json!({"url": URL, "enabled_events": []}), "enabled_events"),
        (
            json!({"url": URL, "enabled_events": ["*", "invoice.paid"]}),
            "enabled_events",
        ),
        (
            json!({"url": URL, "enabled_events": ["invoice.paid", "nope"]}),
            "enabled_events[1]",
        ),
        (
            json!({"url": "ftp://example.com/", "enabled_events": ["*"]}),
            "url",
        ),
        (json!({"url": "not a url", "enabled_events": ["*"]}), "url"),
        (
            json!({"url": "https://u:p@example.com/", "enabled_events": ["*"]}),
            "url",
        ),
        (json!({"enabled_events": ["*"]}), "url"),
        (json!({"url": URL}), "enabled_events"),
        (
            json!({"url": URL, "enabled_events": ["*"], "colour": 1}),
            "colour",
        ),
        (
            json!({"url": URL, "enabled_events": ["*"], "description": "x".repeat(1001)}),
            "description",
        ),
    ] {
        let r = api.post("/v1/webhook_endpoints", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.param(), param, "{body}: {r:?}");
    }
    let (id, _) = endpoint(&api, URL, json!(["*"])).await;
    let r = api
        .post(
            &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
            json!({"expires_in": 30 * 86_400}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "expires_in"), "{r:?}");
    // Answers carrying a secret are never stored for an idempotent replay.
    let r = api
        .post_with_key(
            "/v1/webhook_endpoints",
            json!({"url": URL, "enabled_events": ["*"]}),
            "k1",
        )
        .await;
    assert_eq!(r.code(), "idempotency_key_unsupported", "{r:?}");
    let r = api
        .post_with_key(
            &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
            json!({}),
            "k2",
        )
        .await;
    assert_eq!(r.code(), "idempotency_key_unsupported", "{r:?}");
    // The router decodes percent-escapes; the refusal sees the same path.
    for path in [
        "/v1/webhook%5Fendpoints".to_owned(),
        format!("/v1/webhook_endpoints/{id}/rotate%5Fsecret"),
        "/v1/api%5Fkeys".to_owned(),
    ] {
        let r = api
            .post_with_key(&path, json!({"url": URL, "enabled_events": ["*"]}), "k3")
            .await;
        assert_eq!(
            (r.status, r.code()),
            (400, "idempotency_key_unsupported"),
            "{path}: {r:?}"
        );
    }
}

#[tokio::test]
async fn another_merchants_endpoints_and_deliveries_are_not_found() {
    let app = spawn_app().await;
    let alice = app.api().await;
    let mallory = app.api().await;
    let receiver = Receiver::start().await;
    let (id, _) = endpoint(&alice, &receiver.url, json!(["*"])).await;
    alice.customer().await;
    app.deliver_webhooks().await;
    let deliveries = alice
        .get(&format!("/v1/webhook_endpoints/{id}/deliveries"))
        .await;
    assert_eq!(deliveries.status, 200);
    let delivery = deliveries.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(delivery.starts_with(WebhookDeliveryId::PREFIX));

    assert_eq!(
        mallory.get("/v1/webhook_endpoints").await.body["data"],
        json!([])
    );
    for r in [
        mallory.get(&format!("/v1/webhook_endpoints/{id}")).await,
        mallory
            .post(
                &format!("/v1/webhook_endpoints/{id}"),
                json!({"enabled": false}),
            )
            .await,
        mallory.delete(&format!("/v1/webhook_endpoints/{id}")).await,
        mallory
            .post(
                &format!("/v1/webhook_endpoints/{id}/rotate_secret"),
                json!({}),
            )
            .await,
        mallory
            .get(&format!("/v1/webhook_endpoints/{id}/deliveries"))
            .await,
        mallory
            .post(
                &format!("/v1/webhook_deliveries/{delivery}/replay"),
                json!({}),
            )
            .await,
        alice
            .post("/v1/webhook_deliveries/wd_nope/replay", json!({}))
            .await,
        mallory
            .get(&format!("/v1/webhook_deliveries/{delivery}/attempts"))
            .await,
        alice.get("/v1/webhook_deliveries/wd_nope/attempts").await,
    ] {
        assert_eq!(r.status, 404, "{r:?}");
    }
    let still = alice.get(&format!("/v1/webhook_endpoints/{id}")).await;
    assert_eq!(still.body["status"], "enabled");
    let attempts = alice
        .get(&format!("/v1/webhook_deliveries/{delivery}/attempts"))
        .await;
    assert_eq!(attempts.status, 200, "{attempts:?}");
    assert_eq!(attempts.body["data"][0]["status_code"], 200);
}

async fn strict_app() -> crate::support::app::TestApp {
    spawn_app_with(|s| s.webhooks.allow_private_addresses = Some(false)).await
}

#[tokio::test]
async fn the_ssrf_guard_refuses_internal_addresses_with_a_422_naming_url() {
    let app = strict_app().await;
    let api = app.api().await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/",
    ] {
        let r = api
            .post(
                "/v1/webhook_endpoints",
                json!({"url": url, "enabled_events": ["*"]}),
            )
            .await;
        assert_eq!(r.status, 422, "{url}: {r:?}");
        assert_eq!((r.param(), r.code()), ("url", "url_refused"), "{r:?}");
    }
    assert_eq!(
        api.get("/v1/webhook_endpoints").await.body["data"],
        json!([])
    );
}

#[tokio::test]
async fn the_ssrf_guard_also_checks_at_delivery_time() {
    let app = strict_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    // Endpoints that were allowed once (say, DNS changed since): written directly.
    let localhost = receiver.url.replace("127.0.0.1", "localhost");
    for url in [receiver.url.clone(), localhost] {
        webhook_endpoints::ActiveModel {
            id: Set(WebhookEndpointId::new().to_string()),
            merchant_id: Set(api.merchant_id.clone()),
            url: Set(url),
            description: Set(None),
            event_types: Set(json!(["*"])),
            secret: Set("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
            previous_secret: Set(None),
            previous_secret_expires_at: Set(None),
            status: Set("enabled".into()),
            disabled_reason: Set(None),
            failing_since: Set(None),
            created_at: Set(app.now()),
            updated_at: Set(app.now()),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
    api.customer().await;
    let drained = app.deliver_webhooks().await;
    assert_eq!(drained.attempts, 2);
    assert_eq!(receiver.count(), 0, "nothing reached the internal address");
    let endpoints = api.get("/v1/webhook_endpoints").await;
    for e in endpoints.body["data"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        let d = api
            .get(&format!("/v1/webhook_endpoints/{id}/deliveries"))
            .await;
        let d = &d.body["data"][0];
        assert_eq!(d["status"], "pending");
        assert_eq!(d["last_status_code"], json!(null));
        assert!(
            d["last_error"]
                .as_str()
                .unwrap()
                .contains("not a public address"),
            "{d}"
        );
    }
}

#[tokio::test]
async fn off_the_sandbox_endpoints_must_use_https() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_private_addresses = Some(false);
        s.app.network = pushbill::config::Network::Signet;
    })
    .await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/webhook_endpoints",
            json!({"url": "http://1.1.1.1/hook", "enabled_events": ["*"]}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "url"), "{r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("https")
    );
}
