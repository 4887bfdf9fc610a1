//! Rate limiting per API key: 429 with Retry-After past the limit, per key.

use pushbill::auth::api_keys::{self, Mode};
use serde_json::json;

use crate::support::app::spawn_app_with;

#[tokio::test]
async fn a_key_past_its_limit_gets_429_with_retry_after_and_others_do_not() {
    // Three requests at once, then one every ten seconds.
    let app = spawn_app_with(|s| {
        s.api.rate_limit_per_second = 0.1;
        s.api.rate_limit_burst = 3;
    })
    .await;
    let alice = app.api().await;
    let bob = app.api().await;

    assert_eq!(alice.get("/v1/plans").await.status, 200);
    assert_eq!(alice.post("/v1/customers", json!({})).await.status, 200);
    assert_eq!(alice.get("/v1/customers").await.status, 200);
    let r = alice.get("/v1/plans").await;
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.body["error"]["type"], "rate_limit_error");
    assert_eq!(r.code(), "rate_limited");
    let retry_after: u64 = r.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in whole seconds");
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    // POSTs count too, with or without an Idempotency-Key.
    let r = alice.post("/v1/customers", json!({})).await;
    assert_eq!(r.status, 429);
    let r = alice
        .post_with_key("/v1/customers", json!({}), "retry-1")
        .await;
    assert_eq!((r.status, r.code()), (429, "rate_limited"));

    // Another merchant's key, and another key of the same merchant, have
    // their own buckets.
    assert_eq!(bob.get("/v1/plans").await.status, 200);
    let second = api_keys::create(&app.db, app.now(), &alice.merchant_id, "CI", Mode::Test)
        .await
        .unwrap();
    let r = app.api_with_key(&second.secret).get("/v1/plans").await;
    assert_eq!(r.status, 200, "{r:?}");

    // Requests without a valid key are refused before any bucket is touched.
    let r = app.api_with_key("nonsense").get("/v1/plans").await;
    assert_eq!(r.status, 401);

    // After waiting as told, the key works again.
    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let r = alice.get("/v1/plans").await;
    assert_eq!(r.status, 200, "{r:?}");
}
