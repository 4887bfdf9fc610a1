//! `Idempotency-Key` on POST: replay, reuse, limits.

use serde_json::json;

use crate::support::app::spawn_app;

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_response() {
    let app = spawn_app().await;
    let api = app.api().await;
    let body = json!({"name": "Alice"});
    let first = api
        .post_with_key("/v1/customers", body.clone(), "key-1")
        .await;
    assert_eq!(first.status, 200);
    assert!(first.headers.get("Idempotent-Replayed").is_none());
    let again = api
        .post_with_key("/v1/customers", body.clone(), "key-1")
        .await;
    assert_eq!((again.status, &again.body), (200, &first.body));
    assert_eq!(again.headers["Idempotent-Replayed"], "true");
    assert_eq!(
        api.get("/v1/customers").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Errors replay too.
    let bad = api
        .post_with_key("/v1/customers", json!({"email": "nope"}), "key-2")
        .await;
    let bad_again = api
        .post_with_key("/v1/customers", json!({"email": "nope"}), "key-2")
        .await;
    assert_eq!((bad.status, bad_again.status), (400, 400));
    assert_eq!(bad.body, bad_again.body);

    // Another merchant's identical key is their own.
    let other = app.api().await;
    let r = other.post_with_key("/v1/customers", body, "key-1").await;
    assert!(r.headers.get("Idempotent-Replayed").is_none());
    assert_ne!(r.id(), first.id());
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_a_409() {
    let app = spawn_app().await;
    let api = app.api().await;
    api.post_with_key("/v1/customers", json!({"name": "Alice"}), "k")
        .await;
    let r = api
        .post_with_key("/v1/customers", json!({"name": "Bob"}), "k")
        .await;
    assert_eq!((r.status, r.code()), (409, "idempotency_key_reuse"));
    let r = api
        .post_with_key("/v1/plans", json!({"name": "Alice"}), "k")
        .await;
    assert_eq!((r.status, r.code()), (409, "idempotency_key_reuse"));
}

#[tokio::test]
async fn keys_longer_than_255_characters_are_refused() {
    let app = spawn_app().await;
    let api = app.api().await;
    let r = api
        .post_with_key("/v1/customers", json!({}), &"k".repeat(256))
        .await;
    assert_eq!((r.status, r.param()), (400, "Idempotency-Key"));
    let r = api
        .post_with_key("/v1/customers", json!({}), &"k".repeat(255))
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .api_with_key("pb_test_wrong")
        .post_with_key("/v1/customers", json!({}), "k")
        .await;
    assert_eq!(r.status, 401);
}
