//! /v1/subscriptions.

use serde_json::json;

use crate::support::app::spawn_app;

#[tokio::test]
async fn a_subscription_is_created_paused_resumed_rescheduled_and_canceled() {
    let app = spawn_app().await;
    let api = app.api().await;
    let plan = api.monthly_plan().await;
    let yearly = api
        .post(
            "/v1/plans",
            json!({"name": "Yearly", "amount_msat": 100_000_000, "interval": "year"}),
        )
        .await
        .id();
    let customer = api.customer().await;
    let r = api
        .post(
            "/v1/subscriptions",
            json!({"customer": customer, "plan": plan, "metadata": {"order": "42"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let sub = r.id();
    assert_eq!(r.body["object"], "subscription");
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["current_period_start"], "2027-12-01T00:00:00Z");
    assert_eq!(r.body["current_period_end"], "2028-01-01T00:00:00Z");
    assert_eq!(r.body["metadata"], json!({"order": "42"}));
    assert_eq!(app.invoices_of(&sub).await.len(), 1);

    let path = format!("/v1/subscriptions/{sub}");
    assert_eq!(api.get(&path).await.body["id"], sub);
    let r = api.post(&format!("{path}/pause"), json!({})).await;
    assert_eq!(r.body["status"], "paused", "{r:?}");
    let r = api.post(&format!("{path}/pause"), json!({})).await;
    assert_eq!((r.status, r.code()), (409, "illegal_transition"));
    let r = api.post(&format!("{path}/resume"), json!({})).await;
    assert_eq!(r.body["status"], "active", "{r:?}");

    let r = api.post(&path, json!({"plan": yearly})).await;
    assert_eq!(
        (r.body["plan"].clone(), r.body["pending_plan"].clone()),
        (json!(plan), json!(yearly))
    );

    let r = api
        .post(&format!("{path}/cancel"), json!({"at_period_end": true}))
        .await;
    assert_eq!(r.body["cancel_at_period_end"], true);
    assert_eq!(r.body["status"], "active");
    let r = api.post(&format!("{path}/cancel"), json!({})).await;
    assert_eq!(r.body["status"], "canceled", "{r:?}");

    let list = api
        .get(&format!(
            "/v1/subscriptions?customer={customer}&status=canceled"
        ))
        .await;
    assert_eq!(list.body["data"][0]["id"], sub);
    let list = api.get("/v1/subscriptions?status=active").await;
    assert_eq!(list.body["data"], json!([]));
}

#[tokio::test]
async fn invalid_subscriptions_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let api = app.api().await;
    let plan = api.monthly_plan().await;
    let customer = api.customer().await;
    let cases = [
        ("customer", json!({"customer": "cus_nope", "plan": plan})),
        ("plan", json!({"customer": customer, "plan": "plan_nope"})),
        (
            "trial_period_days",
            json!({"customer": customer, "plan": plan, "trial_period_days": -3}),
        ),
        (
            "billing_anchor",
            json!({"customer": customer, "plan": plan, "billing_anchor": "tomorrow"}),
        ),
        (
            "billing_anchor",
            json!({"customer": customer, "plan": plan, "billing_anchor": "2030-01-01T00:00:00Z"}),
        ),
        (
            "metadata",
            json!({"customer": customer, "plan": plan, "metadata": "x"}),
        ),
    ];
    for (field, body) in cases {
        let r = api.post("/v1/subscriptions", body).await;
        assert_eq!((r.status, r.param()), (400, field), "{r:?}");
    }
}
