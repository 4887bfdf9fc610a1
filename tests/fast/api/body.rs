//! Bad bodies and URLs: always a 400 (or 404) in the API's JSON error shape.

use serde_json::json;

use crate::support::app::spawn_app;

#[tokio::test]
async fn malformed_json_too_large_bodies_and_bad_queries_are_json_400s() {
    let app = spawn_app().await;
    let api = app.api().await;
    for body in [
        "{",
        "{\"name\": }",
        "[1,2]",
        "null",
        "{\"name\": \"x\"} trailing",
    ] {
        let r = api.post_raw("/v1/customers", body).await;
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
    }
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    let r = api.post_raw("/v1/customers", huge.clone()).await;
    assert_eq!((r.status, r.code()), (413, "body_too_large"));
    let r = api
        .post_with_key(
            "/v1/customers",
            json!({"name": "x".repeat(70 * 1024)}),
            "big-1",
        )
        .await;
    assert_eq!((r.status, r.code()), (413, "body_too_large"));

    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=101", "limit"),
        ("starting_after=sub_1", "starting_after"),
        ("status=bogus", "status"),
    ] {
        let r = api.get(&format!("/v1/plans?{query}")).await;
        assert_eq!((r.status, r.param()), (400, param), "{query}: {r:?}");
    }
    let r = api.get("/v1/plans?colour=red").await;
    assert_eq!(r.status, 400);

    let r = api.get("/v1/nothing-here").await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
    let r = api.get("/v1/plans/plan_doesnotexist").await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
}
