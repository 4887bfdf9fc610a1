//! /v1/settings/email: reading and changing the merchant's email switches,
//! and errors naming the field. A switch keeping an email from a real SMTP
//! server is tested in the slow binary (slow/notify/email_settings.rs).

use pushbill::store::merchants;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::support::app::spawn_app;

#[tokio::test]
async fn the_email_settings_read_and_change_through_the_api() {
    let app = spawn_app().await;
    let api = app.api().await;
    let r = api.get("/v1/settings/email").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(
        r.body,
        json!({
            "object": "email_settings",
            "livemode": false,
            "customer_emails": {
                "payment_request": true, "payment_failed": true, "invoice_unpaid": true,
                "receipt": true, "subscription_canceled": true, "trial_ending": true
            },
            "merchant_address": null,
            "unpaid_summary": "immediate",
            "unpaid_summary_hour": 8
        })
    );

    let r = api
        .post(
            "/v1/settings/email",
            json!({
                "customer_emails": {"receipt": false, "trial_ending": false},
                "merchant_address": "Ops@Bobflix.example",
                "unpaid_summary": "daily",
                "unpaid_summary_hour": 17
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["customer_emails"]["receipt"], false);
    assert_eq!(r.body["customer_emails"]["trial_ending"], false);
    assert_eq!(r.body["customer_emails"]["payment_failed"], true);
    assert_eq!(r.body["unpaid_summary"], "daily");
    assert_eq!(r.body["unpaid_summary_hour"], 17);
    let address = r.body["merchant_address"].as_str().unwrap().to_owned();
    assert!(
        address.eq_ignore_ascii_case("ops@bobflix.example"),
        "{address}"
    );
    // What a GET answers is what was saved.
    assert_eq!(api.get("/v1/settings/email").await.body, r.body);

    // Absent fields stay; null clears the address.
    let r = api
        .post(
            "/v1/settings/email",
            json!({"customer_emails": {"receipt": true}, "merchant_address": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["customer_emails"]["receipt"], true);
    assert_eq!(r.body["customer_emails"]["trial_ending"], false);
    assert_eq!(r.body["merchant_address"], serde_json::Value::Null);
    assert_eq!(r.body["unpaid_summary"], "daily");
    assert_eq!(r.body["unpaid_summary_hour"], 17);

    // Another merchant's settings are its own.
    let other = app.api().await;
    let r = other.get("/v1/settings/email").await;
    assert_eq!(r.body["customer_emails"]["trial_ending"], true);
    assert_eq!(r.body["unpaid_summary"], "immediate");
}

#[tokio::test]
async fn bad_email_settings_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let api = app.api().await;
    let before = api.get("/v1/settings/email").await.body;
    let stored = || async {
        merchants::Entity::find_by_id(&api.merchant_id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .settings
    };
    let settings_before = stored().await;
    for (body, param) in [
        (
            json!({"customer_emails": {"bogus": false}}),
            "customer_emails.bogus",
        ),
        (
            json!({"customer_emails": {"receipt": "no"}}),
            "customer_emails.receipt",
        ),
        (
            json!({"customer_emails": {"merchant_unpaid": false}}),
            "customer_emails.merchant_unpaid",
        ),
        (json!({"customer_emails": "receipt"}), "customer_emails"),
        (
            json!({"merchant_address": "not an address"}),
            "merchant_address",
        ),
        (json!({"merchant_address": 7}), "merchant_address"),
        (json!({"unpaid_summary": "weekly"}), "unpaid_summary"),
        (json!({"unpaid_summary_hour": 24}), "unpaid_summary_hour"),
        (json!({"unpaid_summary_hour": -1}), "unpaid_summary_hour"),
        (json!({"unpaid_summary_hour": 8.5}), "unpaid_summary_hour"),
        (json!({"colour": "red"}), "colour"),
        // One bad field refuses the whole change.
        (
            json!({"unpaid_summary": "off", "customer_emails": {"receipt": false}, "merchant_address": "x@"}),
            "merchant_address",
        ),
    ] {
        let r = api.post("/v1/settings/email", body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.param(), param, "{body}: {r:?}");
    }
    assert_eq!(api.get("/v1/settings/email").await.body, before);
    assert_eq!(stored().await, settings_before);
    // Without a key: 401.
    let r = app
        .api_with_key("")
        .post("/v1/settings/email", json!({"unpaid_summary": "off"}))
        .await;
    assert_eq!(r.status, 401);
}
