//! /v1/customers: create, read, list, update, delete, with their events.

use serde_json::json;

use crate::support::app::{NODE, spawn_app};

/// Another valid point: 2G.
const NODE2: &str = "02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5";

#[tokio::test]
async fn a_customer_is_created_updated_and_deleted_with_events() {
    let app = spawn_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/customers",
            json!({"email": "Alice@Example.com", "name": "Alice", "external_id": "u-1",
                   "node_address": format!("{NODE}@node.example.com:9735"),
                   "metadata": {"tier": "gold"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let id = r.id();
    assert!(id.starts_with("cus_"));
    assert_eq!(r.body["object"], "customer");
    assert_eq!(r.body["node_id"], NODE, "taken from the address");
    assert_eq!(r.body["metadata"], json!({"tier": "gold"}));

    let r = api
        .post(
            &format!("/v1/customers/{id}"),
            json!({"name": null, "node_id": NODE2, "node_address": "", "metadata": {"tier": "", "plan": "x"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["name"], json!(null));
    assert_eq!(r.body["node_id"], NODE2);
    assert_eq!(r.body["node_address"], json!(null));
    assert_eq!(r.body["metadata"], json!({"plan": "x"}));
    assert_eq!(r.body["email"], "Alice@example.com", "domain lowercased");

    let list = api.get("/v1/customers").await;
    assert_eq!(list.body["object"], "list");
    assert_eq!(list.body["data"][0]["id"], id);

    let r = api.delete(&format!("/v1/customers/{id}")).await;
    assert_eq!(
        r.body,
        json!({"id": id, "object": "customer", "deleted": true})
    );
    assert_eq!(api.get(&format!("/v1/customers/{id}")).await.status, 404);
    assert_eq!(api.get("/v1/customers").await.body["data"], json!([]));
    assert_eq!(
        app.event_types(&id).await,
        ["customer.created", "customer.updated", "customer.deleted"]
    );
}

#[tokio::test]
async fn a_customer_with_a_live_subscription_cannot_be_deleted() {
    let app = spawn_app().await;
    let api = app.api().await;
    let plan = api.monthly_plan().await;
    let customer = api.customer().await;
    let sub = api.subscription(&customer, &plan).await;
    let r = api.delete(&format!("/v1/customers/{customer}")).await;
    assert_eq!((r.status, r.code()), (409, "customer_has_subscriptions"));
    api.post(&format!("/v1/subscriptions/{sub}/cancel"), json!({}))
        .await;
    assert_eq!(
        api.delete(&format!("/v1/customers/{customer}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn invalid_customers_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let api = app.api().await;
    let cases = [
        ("email", json!("not-an-email")),
        ("node_id", json!("02abc")),
        ("node_id", json!(format!("04{}", &NODE[2..]))),
        ("node_address", json!(format!("{NODE}@host"))),
        ("name", json!("x".repeat(201))),
        ("metadata", json!(["a"])),
        ("metadata.n", json!({"n": 1})),
        ("email", json!(42)),
        ("nickname", json!("al")),
    ];
    for (field, value) in cases {
        let (key, _) = field.split_once('.').unwrap_or((field, ""));
        let r = api.post("/v1/customers", json!({ key: value })).await;
        assert_eq!((r.status, r.param()), (400, field), "{field}: {r:?}");
    }
    let r = api
        .post(
            "/v1/customers",
            json!({"node_id": NODE2, "node_address": format!("{NODE}@1.2.3.4:9735")}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "node_address"));

    api.post("/v1/customers", json!({"external_id": "dup"}))
        .await;
    let r = api
        .post("/v1/customers", json!({"external_id": "dup"}))
        .await;
    assert_eq!((r.status, r.code()), (409, "external_id_in_use"));
}
