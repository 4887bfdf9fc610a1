//! /v1/api_keys: listing (never the secret), creating (the secret once), revoking.

use serde_json::json;

use crate::support::app::{Reply, spawn_app};

fn ids(r: &Reply) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {r:?}"))
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn keys_are_created_listed_without_secrets_and_revoked() {
    let app = spawn_app().await;
    let api = app.api().await;

    let r = api.get("/v1/api_keys").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["url"], "/v1/api_keys");
    assert_eq!(r.body["has_more"], false);
    let first = &r.body["data"][0];
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert!(first_id.starts_with("key_"));
    assert_eq!(first["object"], "api_key");
    assert_eq!(first["name"], "Default key");
    assert_eq!(first["mode"], "test");
    assert_eq!(first["prefix"], api.key[..12]);
    assert_eq!(first["created_at"], "2027-12-01T00:00:00Z");
    // This very request used the key.
    assert_eq!(first["last_used_at"], "2027-12-01T00:00:00Z");
    assert_eq!(first["revoked_at"], json!(null));
    let mut fields: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "id",
            "last_used_at",
            "livemode",
            "mode",
            "name",
            "object",
            "prefix",
            "revoked_at"
        ]
    );

    let r = api.post("/v1/api_keys", json!({"name": "  CI  "})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let second = r.id();
    let secret = r.body["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("pb_test_") && secret.len() == 40,
        "{secret}"
    );
    assert_eq!(r.body["name"], "CI");
    assert_eq!(r.body["prefix"], secret[..12]);
    assert_eq!(r.body["object"], "api_key");
    assert_eq!(r.body["revoked_at"], json!(null));
    let ci = app.api_with_key(&secret);
    assert_eq!(ci.get("/v1/plans").await.status, 200);

    // Neither secret, nor any hash, ever appears in the list.
    let r = api.get("/v1/api_keys").await;
    assert_eq!(ids(&r), [second.clone(), first_id.clone()]);
    let text = r.body.to_string();
    for needle in [secret.as_str(), api.key.as_str(), "secret", "hash"] {
        assert!(!text.contains(needle), "{needle} in {text}");
    }

    // One key revokes another; revoking again changes nothing.
    let r = api
        .post(&format!("/v1/api_keys/{second}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["id"], second);
    assert_eq!(r.body["revoked_at"], "2027-12-01T00:00:00Z");
    assert!(r.body.get("secret").is_none());
    assert_eq!(ci.get("/v1/plans").await.status, 401);
    let r = api
        .post(&format!("/v1/api_keys/{second}/revoke"), json!({}))
        .await;
    assert_eq!(
        (r.status, r.body["revoked_at"].clone()),
        (200, json!("2027-12-01T00:00:00Z"))
    );
    let r = api.get("/v1/api_keys").await;
    assert_eq!(r.body["data"][0]["revoked_at"], "2027-12-01T00:00:00Z");
    assert_eq!(r.body["data"][1]["revoked_at"], json!(null));
}

#[tokio::test]
async fn the_key_in_use_may_revoke_itself() {
    let app = spawn_app().await;
    let api = app.api().await;
    let first = ids(&api.get("/v1/api_keys").await)[0].clone();
    let r = api
        .post(&format!("/v1/api_keys/{first}/revoke"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["revoked_at"], "2027-12-01T00:00:00Z");
    let r = api.get("/v1/api_keys").await;
    assert_eq!((r.status, r.code()), (401, "api_key_invalid"));
}

#[tokio::test]
async fn invalid_key_requests_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let api = app.api().await;
    for (param, body) in [
        ("name", json!({})),
        ("name", json!({"name": ""})),
        ("name", json!({"name": "   "})),
        ("name", json!({"name": "x".repeat(101)})),
        ("name", json!({"name": 7})),
        ("mode", json!({"name": "CI", "mode": "live"})),
    ] {
        let r = api.post("/v1/api_keys", body.clone()).await;
        assert_eq!((r.status, r.param()), (400, param), "{body}: {r:?}");
    }
    assert_eq!(ids(&api.get("/v1/api_keys").await).len(), 1);
    let r = api.post("/v1/api_keys/key_nope/revoke", json!({})).await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
    let first = ids(&api.get("/v1/api_keys").await)[0].clone();
    let r = api
        .post(
            &format!("/v1/api_keys/{first}/revoke"),
            json!({"now": true}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "now"));
    // A created key's secret is never kept for an idempotent replay.
    let r = api
        .post_with_key("/v1/api_keys", json!({"name": "CI"}), "k1")
        .await;
    assert_eq!(
        (r.status, r.code(), r.param()),
        (400, "idempotency_key_unsupported", "Idempotency-Key"),
        "{r:?}"
    );
    assert_eq!(ids(&api.get("/v1/api_keys").await).len(), 1);
}

#[tokio::test]
async fn another_merchants_keys_are_not_found() {
    let app = spawn_app().await;
    let alice = app.api().await;
    let bob = app.api().await;
    let alice_key = ids(&alice.get("/v1/api_keys").await)[0].clone();
    let r = bob
        .post(&format!("/v1/api_keys/{alice_key}/revoke"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
    let bob_keys = ids(&bob.get("/v1/api_keys").await);
    assert_eq!(bob_keys.len(), 1);
    assert!(!bob_keys.contains(&alice_key));
    assert_eq!(alice.get("/v1/api_keys").await.status, 200);
    let r = alice.get("/v1/api_keys").await;
    assert_eq!(r.body["data"][0]["revoked_at"], json!(null));
}

#[tokio::test]
async fn keys_are_listed_in_pages() {
    let app = spawn_app().await;
    let api = app.api().await;
    let mut created = ids(&api.get("/v1/api_keys").await);
    for i in 0..4 {
        let r = api
            .post("/v1/api_keys", json!({"name": format!("k{i}")}))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        created.insert(0, r.id());
    }
    // Newest first, two at a time.
    let mut seen = Vec::new();
    let mut path = "/v1/api_keys?limit=2".to_owned();
    let mut more = Vec::new();
    loop {
        let r = api.get(&path).await;
        assert_eq!(r.status, 200, "{r:?}");
        let page = ids(&r);
        assert!(page.len() <= 2);
        seen.extend(page.clone());
        more.push(r.body["has_more"].as_bool().unwrap());
        if !r.body["has_more"].as_bool().unwrap() {
            break;
        }
        path = format!("/v1/api_keys?limit=2&starting_after={}", page[1]);
    }
    assert_eq!(seen, created);
    assert_eq!(more, [true, true, false]);
    // And back from the oldest.
    let r = api
        .get(&format!(
            "/v1/api_keys?limit=2&ending_before={}",
            created[4]
        ))
        .await;
    assert_eq!(ids(&r), created[2..4]);
    assert_eq!(r.body["has_more"], true);

    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("starting_after=plan_1", "starting_after"),
        ("colour=red", "colour"),
    ] {
        let r = api.get(&format!("/v1/api_keys?{query}")).await;
        assert_eq!((r.status, r.param()), (400, param), "{query}: {r:?}");
    }
}
