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

/// A live deployment of `database`: the web role only, on wall time.
async fn live_app(
    database: &str,
) -> Result<pushbill::app::Application, pushbill::app::StartupError> {
    let mut settings = crate::support::app::test_settings(database);
    settings.app.network = pushbill::config::Network::Regtest;
    settings.clock.mode = pushbill::config::ClockMode::System;
    settings.clock.start = None;
    pushbill::app::Application::build(settings).await
}

#[tokio::test]
async fn a_sandbox_database_refuses_to_start_on_another_network() {
    let app = spawn_app().await;
    let refused = live_app(&app.database.url).await.err().expect("refused");
    assert!(
        matches!(
            &refused,
            pushbill::app::StartupError::WrongNetwork { database, configured }
                if database == "sandbox" && *configured == "regtest"
        ),
        "{refused}"
    );
    assert!(
        refused.to_string().starts_with("app.network: "),
        "{refused}"
    );
    // The sandbox itself starts on it again.
    let again = crate::support::app::test_settings(&app.database.url);
    assert!(pushbill::app::Application::build(again).await.is_ok());
}

#[tokio::test]
async fn keys_of_the_other_mode_are_refused_by_name() {
    // On the sandbox: a live key, even one stored on this database.
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let live = api_keys::create(
        &app.db,
        app.now(),
        &merchant.id,
        "live",
        api_keys::Mode::Live,
    )
    .await
    .unwrap();
    for key in [live.secret.clone(), format!("pb_live_{}", "x".repeat(32))] {
        let r = app.api_with_key(&key).get("/v1/plans").await;
        assert_eq!((r.status, r.code()), (401, "api_key_wrong_mode"), "{r:?}");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("sandbox")
        );
    }

    // On a live deployment: a test key (a sandbox's key on a copied
    // database) opens nothing; a live key works.
    let database = crate::support::app::fresh_database().await;
    let live_app = live_app(&database.url).await.expect("builds");
    let address = format!("http://127.0.0.1:{}", live_app.port());
    let db = live_app.context().db.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(live_app.run_until_stopped(stop.clone()));
    let now = chrono::Utc::now();
    let (merchant, live_key) = pushbill::catalog::merchants::create_with_api_key(
        &db,
        now,
        "Live shop",
        "LIVE",
        api_keys::Mode::Live,
        false,
    )
    .await
    .unwrap();
    let test_key = api_keys::create(&db, now, &merchant.id, "copied", api_keys::Mode::Test)
        .await
        .unwrap();
    let get = |key: String| {
        let url = format!("{address}/v1/plans");
        async move {
            reply(
                reqwest::Client::new()
                    .get(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let r = get(test_key.secret).await;
    assert_eq!((r.status, r.code()), (401, "api_key_wrong_mode"), "{r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("live")
    );
    assert_eq!(get(live_key.secret).await.status, 200);
    stop.cancel();
}
