//! API keys: authentication on /v1. The CLI that creates a merchant's first
//! key is tested in the slow binary (slow/api/auth.rs).

use pushbill::auth::api_keys;
use pushbill::store::page::PageParams;

use crate::support::app::{reply, spawn_app};

#[tokio::test]
async fn requests_without_a_valid_key_get_a_401_json_error() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(format!("{}/v1/plans", app.address))
        .send()
        .await
        .unwrap();
    let r = reply(res).await;
    assert_eq!((r.status, r.code()), (401, "api_key_missing"), "{r:?}");
    assert_eq!(r.body["error"]["type"], "authentication_error");

    let wrong = format!("pb_test_{}", "x".repeat(32));
    for key in [wrong.as_str(), "nonsense", ""] {
        let r = app.api_with_key(key).get("/v1/plans").await;
        assert_eq!(r.status, 401, "{key}: {r:?}");
    }
}

#[tokio::test]
async fn a_key_works_until_it_is_revoked() {
    let app = spawn_app().await;
    let api = app.api().await;
    assert!(api.key.starts_with("pb_test_") && api.key.len() == 40);
    assert_eq!(api.get("/v1/plans").await.status, 200);

    let all = PageParams {
        limit: 100,
        cursor: None,
    };
    let keys = api_keys::list(&app.db, &api.merchant_id, &all)
        .await
        .unwrap()
        .data;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].prefix, &api.key[..12]);
    assert_ne!(keys[0].secret_hash, api.key, "only a hash is stored");
    assert!(keys[0].last_used_at.is_some());

    api_keys::revoke(&app.db, app.now(), &api.merchant_id, &keys[0].id)
        .await
        .unwrap();
    let r = api.get("/v1/plans").await;
    assert_eq!((r.status, r.code()), (401, "api_key_invalid"));
}
