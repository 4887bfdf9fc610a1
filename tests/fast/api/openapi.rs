//! The OpenAPI document against the running app: every documented operation
//! is served, every served /v1 route is documented, and /docs/api lists them.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::support::app::{TestApp, reply, spawn_app};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn openapi(app: &TestApp) -> Value {
    // No API key needed.
    let res = app
        .http
        .get(format!("{}/v1/openapi.json", app.address))
        .send()
        .await
        .unwrap();
    let r = reply(res).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

/// (METHOD, path, operation) for every documented operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            ops.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    ops
}

/// A concrete URL for a documented path: `{id}` filled with an id that exists nowhere.
fn concrete(path: &str) -> String {
    path.replace("{id}", "obj_routewalk")
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
    let ops = operations(&doc);
    assert!(ops.len() >= 28, "{} operations", ops.len());
    let bad_key = app.api_with_key(&format!("pb_test_{}", "x".repeat(32)));
    for (method, path, op) in &ops {
        let secured = op["security"].as_array().is_some_and(|s| {
            s.iter()
                .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        });
        let r = bad_key
            .send_raw(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &concrete(path),
                "{}",
            )
            .await;
        if secured {
            // The route exists (a missing one answers the unknown-route 404
            // before any key is checked), and it wants a valid key.
            assert_eq!(
                (r.status, r.code()),
                (401, "api_key_invalid"),
                "{method} {path}: {r:?}"
            );
            assert!(op["responses"]["401"].is_object(), "{method} {path}");
            assert!(op["responses"]["429"].is_object(), "{method} {path}");
        } else {
            assert_eq!(r.status, 200, "{method} {path}: {r:?}");
        }
        assert!(op["operationId"].is_string(), "{method} {path}");
        assert!(op["summary"].is_string(), "{method} {path}");
        assert!(op["responses"]["200"].is_object(), "{method} {path}");
    }
    // The security scheme and the error object the operations point at exist.
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
}

#[tokio::test]
async fn every_served_v1_route_is_documented() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let ops = operations(&doc);
    let documented: BTreeSet<(String, String)> =
        ops.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();

    // The /v1 scope registers routes only with utoipa-actix-web's
    // `.service(handler)`, which accepts nothing but a handler with a
    // `#[utoipa::path]` and adds that operation to the document. Any other
    // way to add a route (`.route`, `web::resource`, `.configure`, `.map`)
    // could serve an undocumented route, so the scope may use none of them.
    let source = include_str!("../../../src/web/api/mod.rs");
    let start = source
        .find("utoipa_actix_web::scope(\"/v1\")")
        .expect("the /v1 scope");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("end of scope()")];
    let mut services = 0;
    for line in body.lines().skip(1) {
        let line = line.trim();
        let Some(call) = line.strip_prefix('.') else {
            continue;
        };
        let name = call.split('(').next().unwrap();
        assert!(
            ["wrap", "app_data", "service", "default_service"].contains(&name),
            "the /v1 scope registers a route without documenting it: `{line}`; \
             annotate a handler with #[utoipa::path] and add it with .service(handler)"
        );
        services += usize::from(name == "service");
    }
    assert_eq!(
        services,
        documented.len(),
        "one documented operation per registered handler"
    );
    // Nothing else under /v1 is registered outside the scope.
    let web = include_str!("../../../src/web/mod.rs");
    assert!(!web.contains("\"/v1"), "a /v1 route outside the api scope");

    // Every other method on a documented path reaches no handler: the
    // unknown-route answer, even with a valid key.
    let api = app.api().await;
    let paths: BTreeSet<&String> = ops.iter().map(|(_, p, _)| p).collect();
    for path in paths {
        for method in METHODS {
            let method = method.to_uppercase();
            if documented.contains(&(method.clone(), path.clone())) {
                continue;
            }
            let r = api
                .send_raw(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &concrete(path),
                    "{}",
                )
                .await;
            assert_eq!(
                (r.status, r.code()),
                (404, "resource_missing"),
                "{method} {path} is served but not documented: {r:?}"
            );
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Unrecognized request URL"),
                "{r:?}"
            );
        }
    }
}

/// Text as the page's HTML escaping writes it.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn the_api_reference_page_lists_every_operation() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let res = app
        .http
        .get(format!("{}/docs/api", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap();
        let anchor = format!("id=\"op-{id}\"");
        let at = html
            .find(&anchor)
            .unwrap_or_else(|| panic!("{method} {path} ({id}) is not on the page"));
        let article = &html[at..];
        let article = &article[..article.find("</article>").unwrap()];
        assert!(article.contains(&format!(">{method}<")), "{id}: {article}");
        assert!(
            article.contains(&format!("<code class=\"path\">{path}</code>")),
            "{id}: {article}"
        );
        assert!(
            article.contains(&escape(op["summary"].as_str().unwrap())),
            "{id}: {article}"
        );
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            assert!(
                article.contains(&format!("<code>{name}</code>")),
                "{id}: {name}"
            );
        }
    }
    // Request body fields are listed, e.g. creating a plan.
    let at = html.find("id=\"op-create_plan\"").unwrap();
    let create_plan = &html[at..];
    let create_plan = &create_plan[..create_plan.find("</article>").unwrap()];
    for field in ["name", "amount_msat", "interval", "cron_expression"] {
        assert!(
            create_plan.contains(&format!("<code>{field}</code>")),
            "{field}"
        );
    }

    // Its stylesheet is served by pushbill; nothing comes from elsewhere.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(!html.contains("<script"));
    let href = "/static/css/api-docs.css";
    assert!(html.contains(&format!("href=\"{href}\"")));
    let css = app
        .http
        .get(format!("{}{href}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains(".operation"));
}

/// The schema `schema` points at (following `$ref`).
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The required boolean `livemode` of an object schema (own properties or
/// an `allOf` part), or of the items of a list schema (which has none itself).
fn documents_livemode(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    if let Some(parts) = schema["allOf"].as_array() {
        return parts.iter().any(|p| documents_livemode(doc, p));
    }
    let properties = &schema["properties"];
    if properties["has_more"].is_object() {
        return properties.get("livemode").is_none()
            && documents_livemode(doc, &properties["data"]["items"]);
    }
    let required = schema["required"]
        .as_array()
        .is_some_and(|r| r.contains(&Value::from("livemode")));
    properties["livemode"]["type"] == "boolean" && required
}

#[tokio::test]
async fn every_object_answered_documents_livemode() {
    let app = spawn_app().await;
    let doc = openapi(&app).await;
    let mut checked = 0;
    for (method, path, op) in operations(&doc) {
        if op["operationId"] == "get_openapi" {
            continue;
        }
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {path}: no 200 schema");
        // What DELETE answers, `{"id", "object", "deleted"}`, is no object.
        if resolve(&doc, schema)["properties"]["deleted"].is_object() {
            continue;
        }
        assert!(
            documents_livemode(&doc, schema),
            "{method} {path}: livemode undocumented in {schema}"
        );
        checked += 1;
    }
    assert!(checked > 40, "{checked} operations");
}
