//! `Idempotency-Key` on POST: replay, reuse, limits.

use chrono::{Duration, Utc};
use pushbill::store::{self, idempotency_keys};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::json;

use crate::support::app::{Api, TestApp, spawn_app};

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

/// Makes every write of `table` (`operation`: INSERT or UPDATE) fail, as a
/// crash or an outage would, until [`allow`].
async fn refuse(app: &TestApp, table: &str, operation: &str) {
    let sql = if store::is_postgres(&app.db) {
        format!(
            "CREATE FUNCTION refuse_{table}() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_{table} BEFORE {operation} ON {table} \
             FOR EACH ROW EXECUTE FUNCTION refuse_{table}();"
        )
    } else {
        format!(
            "CREATE TRIGGER refuse_{table} BEFORE {operation} ON {table} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        )
    };
    app.db.execute_unprepared(&sql).await.unwrap();
}

async fn allow(app: &TestApp, table: &str) {
    let sql = if store::is_postgres(&app.db) {
        format!("DROP TRIGGER refuse_{table} ON {table}; DROP FUNCTION refuse_{table}();")
    } else {
        format!("DROP TRIGGER refuse_{table};")
    };
    app.db.execute_unprepared(&sql).await.unwrap();
}

async fn count(api: &Api, path: &str) -> usize {
    api.get(path).await.body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn an_answer_lost_after_the_commit_never_repeats_the_effect() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let plan = api.monthly_plan().await;
    let body = json!({"customer": customer, "plan": plan});

    // The subscription commits; storing the answer fails (as a crash would).
    refuse(&app, "idempotency_keys", "UPDATE").await;
    let first = api
        .post_with_key("/v1/subscriptions", body.clone(), "sub-1")
        .await;
    assert_eq!(first.status, 200, "{first:?}");
    allow(&app, "idempotency_keys").await;

    let retry = api
        .post_with_key("/v1/subscriptions", body.clone(), "sub-1")
        .await;
    assert_eq!(
        (retry.status, retry.code()),
        (409, "idempotency_key_in_use")
    );
    // Long after (the old code took a key without an answer for abandoned
    // after 60 s), still no second subscription.
    idempotency_keys::Entity::update_many()
        .col_expr(
            idempotency_keys::Column::CreatedAt,
            Expr::value(Utc::now() - Duration::minutes(10)),
        )
        .exec(&app.db)
        .await
        .unwrap();
    let later = api
        .post_with_key("/v1/subscriptions", body.clone(), "sub-1")
        .await;
    assert_eq!(
        (later.status, later.code()),
        (409, "idempotency_key_in_use")
    );
    assert_eq!(count(&api, "/v1/subscriptions").await, 1);
    assert_eq!(count(&api, "/v1/invoices").await, 1);
}

#[tokio::test]
async fn a_server_error_is_not_stored_and_the_retry_runs_again() {
    let app = spawn_app().await;
    let api = app.api().await;
    let body = json!({"name": "Alice"});
    refuse(&app, "customers", "INSERT").await;
    let failed = api
        .http
        .post(format!("{}/v1/customers", api.address))
        .bearer_auth(&api.key)
        .header("Idempotency-Key", "cus-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 500);
    allow(&app, "customers").await;

    let retry = api
        .post_with_key("/v1/customers", body.clone(), "cus-1")
        .await;
    assert_eq!(retry.status, 200, "{retry:?}");
    assert!(retry.headers.get("Idempotent-Replayed").is_none());
    let again = api.post_with_key("/v1/customers", body, "cus-1").await;
    assert_eq!((again.status, &again.body), (200, &retry.body));
    assert_eq!(again.headers["Idempotent-Replayed"], "true");
    assert_eq!(count(&api, "/v1/customers").await, 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_object() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let plan = api.monthly_plan().await;
    let body = json!({"customer": customer, "plan": plan});
    let replies = futures::future::join_all(
        (0..4).map(|_| api.post_with_key("/v1/subscriptions", body.clone(), "race")),
    )
    .await;
    let created: Vec<String> = replies
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.id())
        .collect();
    assert!(!created.is_empty(), "{replies:?}");
    assert!(created.iter().all(|id| *id == created[0]), "{created:?}");
    for r in &replies {
        assert!(
            r.status == 200 || (r.status, r.code()) == (409, "idempotency_key_in_use"),
            "{r:?}"
        );
    }
    assert_eq!(count(&api, "/v1/subscriptions").await, 1);
    assert_eq!(count(&api, "/v1/invoices").await, 1);
}
