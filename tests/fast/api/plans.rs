//! /v1/plans: create, read, list, update wording, archive; validation names the field.

use serde_json::json;

use crate::support::app::spawn_app;

#[tokio::test]
async fn a_plan_is_created_read_renamed_and_archived() {
    let app = spawn_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/plans",
            json!({
                "name": "Pro", "description": "All features", "amount_msat": 21_000_000,
                "currency": "BTC", "interval": "week", "interval_count": 2,
                "trial_period_days": 7, "payment_due_secs": 3600,
                "retry_schedule_secs": [600, 7200], "grace_period_secs": 86400,
                "grace_action": "cancel"
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let plan = r.body.clone();
    assert!(plan["id"].as_str().unwrap().starts_with("plan_"));
    assert_eq!(plan["object"], "plan");
    assert_eq!(plan["amount_msat"], 21_000_000);
    assert_eq!(plan["currency"], "BTC");
    assert_eq!(
        (plan["interval"].clone(), plan["interval_count"].clone()),
        (json!("week"), json!(2))
    );
    assert_eq!(plan["trial_period_days"], 7);
    assert_eq!(plan["retry_schedule_secs"], json!([600, 7200]));
    assert_eq!(plan["grace_action"], "cancel");
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["created_at"], "2027-12-01T00:00:00Z");
    let id = plan["id"].as_str().unwrap();

    let got = api.get(&format!("/v1/plans/{id}")).await;
    assert_eq!((got.status, &got.body), (200, &plan));

    let renamed = api
        .post(
            &format!("/v1/plans/{id}"),
            json!({"name": "Pro 2", "description": null}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert_eq!(renamed.body["name"], "Pro 2");
    assert_eq!(renamed.body["description"], json!(null));
    assert_eq!(renamed.body["amount_msat"], 21_000_000);

    for (field, value) in [("amount_msat", json!(1)), ("interval", json!("day"))] {
        let r = api
            .post(&format!("/v1/plans/{id}"), json!({ field: value }))
            .await;
        assert_eq!((r.status, r.param()), (400, field), "{r:?}");
    }

    let archived = api
        .post(&format!("/v1/plans/{id}/archive"), json!({}))
        .await;
    assert_eq!(archived.body["status"], "archived");
    let list = api.get("/v1/plans?status=active").await;
    assert_eq!(list.body["data"], json!([]));
    let list = api.get("/v1/plans?status=archived").await;
    assert_eq!(list.body["data"][0]["id"], id);

    let customer = api.customer().await;
    let r = api
        .post(
            "/v1/subscriptions",
            json!({"customer": customer, "plan": id}),
        )
        .await;
    assert_eq!(
        (r.status, r.param()),
        (400, "plan"),
        "archived plans take no subscribers"
    );
}

#[tokio::test]
async fn a_cron_plan_needs_a_valid_expression() {
    let app = spawn_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/plans",
            json!({"name": "Hourly", "amount_msat": 1000, "interval": "cron", "cron_expression": "0 * * * *"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["cron_expression"], "0 * * * *");
}

#[tokio::test]
async fn invalid_plans_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let api = app.api().await;
    let base = json!({"name": "Plan", "amount_msat": 1000, "interval": "month"});
    let cases = [
        ("amount_msat", json!(-1)),
        ("amount_msat", json!(1.5)),
        ("amount_msat", json!(100_000_000_000_000_000_000_000.0)),
        ("amount_msat", json!(u64::MAX)),
        ("amount_msat", json!(2_100_000_000_000_000_001u64)),
        ("amount_msat", json!("1000")),
        ("interval", json!("fortnight")),
        ("interval_count", json!(0)),
        ("interval_count", json!(121)),
        ("cron_expression", json!("every tuesday")),
        ("name", json!("")),
        ("currency", json!("USD")),
        ("trial_period_days", json!(731)),
        ("retry_schedule_secs", json!([7200, 600])),
        ("grace_action", json!("explode")),
        ("colour", json!("red")),
    ];
    for (field, value) in cases {
        let mut body = base.clone();
        body[field] = value.clone();
        if field == "cron_expression" {
            body["interval"] = json!("cron");
        }
        let r = api.post("/v1/plans", body).await;
        assert_eq!(
            (r.status, r.param()),
            (400, field),
            "{field}={value}: {r:?}"
        );
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
        assert!(!r.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let r = api
        .post(
            "/v1/plans",
            json!({"name": "Plan", "amount_msat": 1000, "interval": "cron"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "cron_expression"));
    let r = api
        .post("/v1/plans", json!({"name": "Plan", "interval": "day"}))
        .await;
    assert_eq!(r.status, 400, "missing amount");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("amount_msat"),
        "{r:?}"
    );
}
