//! Two merchants: each one's ids are 404 to the other.

use serde_json::json;

use crate::support::app::spawn_app;

#[tokio::test]
async fn another_merchants_objects_are_not_found() {
    let app = spawn_app().await;
    let alice = app.api().await;
    let bob = app.api().await;
    let plan = alice.monthly_plan().await;
    let customer = alice.customer().await;
    let sub = alice.subscription(&customer, &plan).await;
    let bob_plan = bob.monthly_plan().await;

    for path in [
        format!("/v1/plans/{plan}"),
        format!("/v1/customers/{customer}"),
        format!("/v1/subscriptions/{sub}"),
    ] {
        let r = bob.get(&path).await;
        assert_eq!((r.status, r.code()), (404, "resource_missing"), "{path}");
    }
    let posts = [
        (format!("/v1/plans/{plan}"), json!({"name": "mine"})),
        (format!("/v1/plans/{plan}/archive"), json!({})),
        (format!("/v1/customers/{customer}"), json!({"name": "mine"})),
        (format!("/v1/subscriptions/{sub}/cancel"), json!({})),
        (format!("/v1/subscriptions/{sub}/pause"), json!({})),
        (format!("/v1/subscriptions/{sub}/resume"), json!({})),
        (
            format!("/v1/subscriptions/{sub}"),
            json!({"plan": bob_plan}),
        ),
    ];
    for (path, body) in posts {
        let r = bob.post(&path, body).await;
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    assert_eq!(
        bob.delete(&format!("/v1/customers/{customer}"))
            .await
            .status,
        404
    );
    let r = bob
        .post(
            "/v1/subscriptions",
            json!({"customer": customer, "plan": bob_plan}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "customer"));
    let r = alice
        .post(
            &format!("/v1/subscriptions/{sub}"),
            json!({"plan": bob_plan}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "plan"));

    for list in ["/v1/plans", "/v1/customers", "/v1/subscriptions"] {
        let r = bob.get(list).await;
        let ids: Vec<&str> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect();
        assert!(
            ![plan.as_str(), customer.as_str(), sub.as_str()]
                .iter()
                .any(|i| ids.contains(i)),
            "{list}"
        );
    }
    assert_eq!(
        alice.get(&format!("/v1/plans/{plan}")).await.body["name"],
        "Monthly"
    );
}
