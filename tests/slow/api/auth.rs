//! API keys: the CLI that creates a merchant's first key, a child process
//! (`pushbill merchant create`). Authentication on /v1 is tested in the fast
//! binary (fast/api/auth.rs).

use std::process::Command;

use pushbill::app::Application;
use pushbill::store::api_keys as api_keys_table;
use sea_orm::EntityTrait;
use tokio_util::sync::CancellationToken;

use crate::support::app::{fresh_database, reply, test_settings};

/// A newcomer: `pushbill merchant create`, then curl the API with the printed key.
#[tokio::test]
async fn the_cli_creates_a_merchant_whose_key_works_on_the_api() {
    let database = fresh_database().await;
    let output = Command::new(env!("CARGO_BIN_EXE_pushbill"))
        .args([
            "merchant",
            "create",
            "--name",
            "Acme",
            "--invoice-prefix",
            "ACME",
        ])
        .env("PUSHBILL__DATABASE__URL", &database.url)
        .env("PUSHBILL__LOG__FILTER", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
    };
    let merchant = field("merchant:");
    let key = field("api key:");
    assert!(merchant.starts_with("mer_") && key.starts_with("pb_test_"));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!stderr.contains(&key), "the secret is never logged");

    let app = Application::build(test_settings(&database.url))
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let db = app.context().db.clone();
    let stop = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(stop.clone()));
    let res = reqwest::Client::new()
        .get(format!("{address}/v1/customers"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let r = reply(res).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["data"], serde_json::json!([]));
    let stored = api_keys_table::Entity::find().all(&db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].merchant_id, merchant);
    stop.cancel();

    let bad = Command::new(env!("CARGO_BIN_EXE_pushbill"))
        .args([
            "merchant",
            "create",
            "--name",
            "Acme",
            "--invoice-prefix",
            "acme!",
        ])
        .env("PUSHBILL__DATABASE__URL", &database.url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invoice_prefix"));
}
