//! Malformed input to every POST endpoint: always a 4xx in the API's error
//! shape naming the field at fault, never a 500 (`helpers::reply` also
//! refuses any 500 and any body that is not JSON).

use serde_json::{Value, json};

use crate::support::app::{Api, NODE, Reply, spawn_app};
use crate::support::webhook_receiver::Receiver;

/// 2^63, one past i64::MAX.
const TWO_POW_63: &str = "9223372036854775808";
/// 2^64, one past u64::MAX.
const TWO_POW_64: &str = "18446744073709551616";

struct Endpoint {
    path: String,
    /// A body the endpoint accepts, each field of which is mutated in turn.
    valid: Value,
    /// Fields that must be present.
    required: &'static [&'static str],
    /// Field-specific bad values (raw JSON) beyond the generic ones.
    bad: Vec<(&'static str, Vec<String>)>,
}

fn raw(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// One past the most a BOLT11 can carry (u64::MAX / 10 msat).
const ABOVE_INVOICE_MAX: &str = "1844674407370955162";

fn amounts() -> Vec<String> {
    let mut v = raw(&[
        ABOVE_INVOICE_MAX,
        // 21 million BTC: an amount, but no invoice can carry it.
        "2100000000000000000",
        "-1",
        TWO_POW_63,
        TWO_POW_64,
        "1e30",
        "-1e30",
        "1.5",
        "\"1000\"",
        "2100000000000000001",
    ]);
    v.push(format!("{}0", TWO_POW_64));
    v
}

fn counts() -> Vec<String> {
    raw(&["-1", "4294967296", TWO_POW_64, "1e30", "1.5", "\"7\""])
}

fn node_ids() -> Vec<String> {
    vec![
        json!("02").to_string(),
        json!("zz".repeat(33)).to_string(),
        // 66 hex characters but not a point on the curve.
        json!(format!("02{}", "ff".repeat(32))).to_string(),
        // An uncompressed-key prefix.
        json!(format!("04{}", &NODE[2..])).to_string(),
        json!(format!("{NODE}00")).to_string(),
        json!(" ".repeat(66)).to_string(),
    ]
}

fn long(n: usize) -> String {
    json!("x".repeat(n)).to_string()
}

async fn send(api: &Api, path: &str, body: &str) -> Reply {
    api.post_raw(path, body.to_owned()).await
}

fn assert_error_shape(r: &Reply, what: &str) {
    assert!(
        (400..500).contains(&r.status),
        "{what}: expected a 4xx, got {r:?}"
    );
    let e = &r.body["error"];
    for key in ["type", "code", "message"] {
        assert!(e[key].is_string(), "{what}: error.{key} in {r:?}");
    }
    assert!(e.get("param").is_some(), "{what}: error.param in {r:?}");
}

/// `param` is the field or a part of it (`retry_schedule_secs[0]`, `metadata.k`).
fn names(param: &str, field: &str) -> bool {
    param == field
        || param.starts_with(&format!("{field}["))
        || param.starts_with(&format!("{field}."))
}

fn with(valid: &Value, field: &str, raw_value: &str) -> String {
    let mut body = valid.as_object().unwrap().clone();
    // A stand-in replaced by the raw text, which may not parse (a lone
    // surrogate) or not survive a round trip.
    body.insert(field.to_owned(), Value::String(STAND_IN.into()));
    Value::Object(body)
        .to_string()
        .replace(&format!("\"{STAND_IN}\""), raw_value)
}

const STAND_IN: &str = "@@stand-in@@";

/// Text no database can store (a NUL character) or that is not Unicode (a
/// lone surrogate), as raw JSON, in the shape of a field's valid value.
fn unstorable(value: &Value) -> Vec<String> {
    let strings = [
        r#""\u0000""#,
        r#""a\u0000b""#,
        r#""\ud800""#,
        r#""x\udfff""#,
        r#""\ud83d\u0041""#,
    ];
    match value {
        Value::String(_) => raw(&strings),
        Value::Array(_) => strings.iter().map(|s| format!("[{s}]")).collect(),
        Value::Object(_) => {
            let mut v: Vec<String> = strings.iter().map(|s| format!(r#"{{"k": {s}}}"#)).collect();
            v.push(r#"{"k\u0000": "v"}"#.to_owned());
            v.push(r#"{"\ud800": "v"}"#.to_owned());
            v
        }
        _ => Vec::new(),
    }
}

/// Every generic malformation, then every field-specific bad value.
async fn sweep(api: &Api, e: &Endpoint) {
    let path = e.path.as_str();
    let valid = e.valid.to_string();
    let mut broken: Vec<String> = raw(&["{", "{'a': 1}", "\u{0}", "\"unterminated", "{]"]);
    broken.push(format!("{valid} x"));
    broken.push(format!("{valid}{valid}"));
    broken.push(valid[..valid.len() - 1].to_owned());
    if let Some(field) = e.valid.as_object().unwrap().keys().next() {
        broken.push(format!("{{\"{field}\": }}"));
        broken.push(format!("{{\"{field}\": tru}}"));
        broken.push(format!("{{\"{field}\" 1}}"));
    }
    for body in &broken {
        let r = send(api, path, body).await;
        assert_error_shape(&r, &format!("{path} {body:?}"));
        assert_eq!(
            (r.status, r.code()),
            (400, "body_invalid_json"),
            "{path} {body:?}: {r:?}"
        );
    }
    let mut not_objects: Vec<String> = raw(&["[]", "[1, 2]", "42", "\"text\"", "true", "null"]);
    // An array of the fields' values in order.
    not_objects
        .push(Value::Array(e.valid.as_object().unwrap().values().cloned().collect()).to_string());
    for body in &not_objects {
        let r = send(api, path, body).await;
        assert_error_shape(&r, &format!("{path} {body}"));
        assert_eq!(
            (r.status, r.code()),
            (400, "body_not_object"),
            "{path} {body}: {r:?}"
        );
    }
    let huge = with(&e.valid, "padding", &long(70 * 1024));
    let r = send(api, path, &huge).await;
    assert_error_shape(&r, &format!("{path} huge"));
    assert_eq!((r.status, r.code()), (413, "body_too_large"), "{path}");

    let r = send(api, path, &with(&e.valid, "zz_unknown", "1")).await;
    assert_eq!((r.status, r.param()), (400, "zz_unknown"), "{path}: {r:?}");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("zz_unknown")
    );

    // An empty body reads as `{}`: the first required field is missing.
    // (Where nothing is required an empty body is a valid request, which
    // would act: the endpoints' own tests cover it.)
    if let Some(field) = e.required.first() {
        for body in ["", "{}", "  "] {
            let r = send(api, path, body).await;
            assert_error_shape(&r, &format!("{path} empty"));
            assert_eq!(
                (r.status, r.param()),
                (400, *field),
                "{path} {body:?}: {r:?}"
            );
        }
    }

    let fields: Vec<(String, Value)> = e
        .valid
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (field, value) in &fields {
        let mut wrong: Vec<String> = match value {
            Value::String(_) => raw(&["12345", "[]", "{}", "true"]),
            Value::Number(_) => raw(&["\"12\"", "[]", "{}", "true", "-1", "1e30", TWO_POW_64]),
            Value::Bool(_) => raw(&["\"yes\"", "1", "[]", "{}"]),
            Value::Object(_) => raw(&["\"text\"", "12", "[]"]),
            Value::Array(_) => raw(&["\"text\"", "12", "{}"]),
            Value::Null => Vec::new(),
        };
        if value.is_string() {
            wrong.push(long(20_000));
        }
        wrong.extend(unstorable(value));
        if e.required.contains(&field.as_str()) {
            wrong.push("null".to_owned());
        }
        for bad in wrong {
            let body = with(&e.valid, field, &bad);
            let r = send(api, path, &body).await;
            let shown = &bad[..bad.len().min(40)];
            assert_error_shape(&r, &format!("{path} {field}={shown}"));
            assert_eq!(r.status, 400, "{path} {field}={shown}: {r:?}");
            assert!(names(r.param(), field), "{path} {field}={shown}: {r:?}");
        }
    }
    for (field, values) in &e.bad {
        for bad in values {
            let body = with(&e.valid, field, bad);
            let r = send(api, path, &body).await;
            let shown = &bad[..bad.len().min(40)];
            assert_error_shape(&r, &format!("{path} {field}={shown}"));
            assert_eq!(r.status, 400, "{path} {field}={shown}: {r:?}");
            assert!(names(r.param(), field), "{path} {field}={shown}: {r:?}");
        }
    }
}

#[tokio::test]
async fn malformed_input_to_every_post_endpoint_is_a_4xx_naming_the_field() {
    let app = spawn_app().await;
    let api = app.api().await;
    // A webhook endpoint (hearing of what happens from now on) to aim the
    // endpoint and delivery POSTs at, sending to a real receiver.
    let receiver = Receiver::start().await;
    let r = api
        .post(
            "/v1/webhook_endpoints",
            json!({"url": receiver.url, "enabled_events": ["customer.created"],
                "description": "billing"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let webhook_endpoint = r.id();
    let plan = api.monthly_plan().await;
    let customer = api.customer().await;
    let sub = api.subscription(&customer, &plan).await;
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1000}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let invoice = r.id();
    let key = api.get("/v1/api_keys").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The webhook endpoint's one delivery: the customer's creation, sent to
    // the receiver.
    app.deliver_webhooks().await;
    let endpoint_before = api
        .get(&format!("/v1/webhook_endpoints/{webhook_endpoint}"))
        .await
        .body;
    let deliveries_path = format!("/v1/webhook_endpoints/{webhook_endpoint}/deliveries");
    let deliveries_before = api.get(&deliveries_path).await.body["data"].clone();
    assert_eq!(
        deliveries_before.as_array().unwrap().len(),
        1,
        "{deliveries_before}"
    );
    assert_eq!(deliveries_before[0]["status"], "succeeded");
    let delivery = deliveries_before[0]["id"].as_str().unwrap().to_owned();

    let cron_plan = json!({"name": "Weekly", "amount_msat": 1000, "interval": "cron",
        "cron_expression": "0 0 9 * * Mon"});
    let customer_fields = |extra: &[(&'static str, Vec<String>)]| {
        let mut bad = vec![
            ("node_id", node_ids()),
            (
                "email",
                vec![
                    json!("not-an-email").to_string(),
                    json!(format!("{}@example.com", "a".repeat(300))).to_string(),
                    json!("a b@example.com").to_string(),
                    // Addresses the mailer cannot send to.
                    json!("<script>@example.com").to_string(),
                    json!("\"quoted\"@example.com").to_string(),
                    json!("a,b@example.com").to_string(),
                    json!("a..b@example.com").to_string(),
                    json!("a\\b@example.com").to_string(),
                ],
            ),
            (
                "node_address",
                vec![
                    json!("nowhere").to_string(),
                    json!("host:99999").to_string(),
                ],
            ),
            ("name", vec![long(201)]),
            ("external_id", vec![long(201)]),
            (
                "metadata",
                vec![
                    json!({"k": {"nested": true}}).to_string(),
                    json!({"x".repeat(41): "v"}).to_string(),
                    json!({"k": "v".repeat(501)}).to_string(),
                ],
            ),
        ];
        bad.extend(extra.iter().cloned());
        bad
    };
    let endpoints = vec![
        Endpoint {
            path: "/v1/plans".into(),
            valid: json!({"name": "Monthly", "description": "d", "amount_msat": 1000,
                "currency": "BTC", "interval": "month", "interval_count": 1,
                "trial_period_days": 0, "payment_due_secs": 3600,
                "retry_schedule_secs": [60], "grace_period_secs": 60,
                "grace_action": "cancel"}),
            required: &["name"],
            bad: vec![
                ("amount_msat", amounts()),
                ("name", vec![long(201), json!("").to_string()]),
                ("description", vec![long(1001)]),
                ("currency", vec![json!("USD").to_string()]),
                (
                    "interval",
                    vec![json!("fortnight").to_string(), json!("").to_string()],
                ),
                ("interval_count", {
                    let mut v = counts();
                    v.push("0".into());
                    v
                }),
                ("trial_period_days", {
                    let mut v = counts();
                    v.push("731".into());
                    v
                }),
                ("payment_due_secs", counts()),
                ("grace_period_secs", counts()),
                ("retry_schedule_secs", raw(&["[-1]", "[1e30]", "[\"x\"]"])),
                ("grace_action", vec![json!("explode").to_string()]),
            ],
        },
        Endpoint {
            path: "/v1/plans".into(),
            valid: cron_plan,
            required: &["name"],
            bad: vec![(
                "cron_expression",
                vec![
                    json!("not a cron").to_string(),
                    json!("* * *").to_string(),
                    json!("99 * * * * *").to_string(),
                    json!("0 0 9 * * Funday").to_string(),
                    json!("").to_string(),
                    long(5000),
                ],
            )],
        },
        Endpoint {
            path: format!("/v1/plans/{plan}"),
            valid: json!({"name": "Renamed", "description": "d"}),
            required: &[],
            bad: vec![
                ("name", vec![long(201), json!("").to_string()]),
                ("description", vec![long(1001)]),
                ("amount_msat", amounts()),
                ("interval", vec![json!("week").to_string()]),
                ("cron_expression", vec![json!("* * *").to_string()]),
            ],
        },
        Endpoint {
            path: format!("/v1/plans/{plan}/archive"),
            valid: json!({}),
            required: &[],
            bad: vec![],
        },
        Endpoint {
            path: "/v1/customers".into(),
            valid: json!({"email": "bob@example.com", "name": "Bob", "external_id": "b-1",
                "node_id": NODE, "node_address": format!("{NODE}@127.0.0.1:9735"), "metadata": {"k": "v"}}),
            required: &[],
            bad: customer_fields(&[]),
        },
        Endpoint {
            path: format!("/v1/customers/{customer}"),
            valid: json!({"email": "bob@example.com", "name": "Bob", "external_id": "b-1",
                "node_id": NODE, "node_address": format!("{NODE}@127.0.0.1:9735"), "metadata": {"k": "v"}}),
            required: &[],
            bad: customer_fields(&[]),
        },
        Endpoint {
            path: "/v1/subscriptions".into(),
            valid: json!({"customer": customer, "plan": plan, "trial_period_days": 0,
                "billing_anchor": "2027-12-01T00:00:00Z", "metadata": {"k": "v"}}),
            required: &["customer"],
            bad: vec![
                (
                    "customer",
                    vec![
                        json!("cus_nope").to_string(),
                        json!(plan).to_string(),
                        json!("").to_string(),
                    ],
                ),
                (
                    "plan",
                    vec![
                        json!("plan_nope").to_string(),
                        json!(customer).to_string(),
                        json!("").to_string(),
                    ],
                ),
                ("trial_period_days", {
                    let mut v = counts();
                    v.push("731".into());
                    v
                }),
                (
                    "billing_anchor",
                    vec![
                        json!("yesterday").to_string(),
                        json!("2027-13-45T00:00:00Z").to_string(),
                        json!("+275760-09-13T00:00:00Z").to_string(),
                    ],
                ),
                ("metadata", vec![json!({"k": [1]}).to_string()]),
            ],
        },
        Endpoint {
            path: format!("/v1/subscriptions/{sub}"),
            valid: json!({"plan": plan}),
            required: &["plan"],
            bad: vec![(
                "plan",
                vec![json!("plan_nope").to_string(), json!("").to_string()],
            )],
        },
        Endpoint {
            path: format!("/v1/subscriptions/{sub}/cancel"),
            valid: json!({"at_period_end": true}),
            required: &[],
            bad: vec![],
        },
        Endpoint {
            path: format!("/v1/subscriptions/{sub}/pause"),
            valid: json!({}),
            required: &[],
            bad: vec![],
        },
        Endpoint {
            path: format!("/v1/subscriptions/{sub}/resume"),
            valid: json!({}),
            required: &[],
            bad: vec![],
        },
        Endpoint {
            path: "/v1/invoices".into(),
            valid: json!({"customer": customer, "amount_msat": 1000, "description": "Lunch",
                "due_in_secs": 3600}),
            required: &["customer"],
            bad: vec![
                ("amount_msat", {
                    let mut v = amounts();
                    v.push("0".into());
                    v
                }),
                (
                    "customer",
                    vec![json!("cus_nope").to_string(), json!("").to_string()],
                ),
                ("description", vec![long(501)]),
                ("due_in_secs", counts()),
            ],
        },
        Endpoint {
            path: format!("/v1/invoices/{invoice}/void"),
            valid: json!({}),
            required: &[],
            bad: vec![],
        },
        Endpoint {
            path: "/v1/api_keys".into(),
            valid: json!({"name": "CI"}),
            required: &["name"],
            bad: vec![(
                "name",
                vec![long(101), json!("").to_string(), json!("  ").to_string()],
            )],
        },
        Endpoint {
            path: format!("/v1/api_keys/{key}/revoke"),
            valid: json!({}),
            required: &[],
            bad: vec![],
        },
        Endpoint {
            path: "/v1/webhook_endpoints".into(),
            valid: json!({"url": receiver.url, "enabled_events": ["invoice.paid"],
                "description": "billing"}),
            required: &["url", "enabled_events"],
            bad: webhook_endpoint_fields(&[]),
        },
        Endpoint {
            path: format!("/v1/webhook_endpoints/{webhook_endpoint}"),
            // Unlike the endpoint as it is, so any change would show.
            valid: json!({"url": "http://127.0.0.1:10/other", "enabled_events": ["*"],
                "description": "changed", "enabled": false}),
            required: &[],
            bad: webhook_endpoint_fields(&[("enabled", raw(&["\"false\"", "0", "\"no\""]))]),
        },
        Endpoint {
            path: format!("/v1/webhook_endpoints/{webhook_endpoint}/rotate_secret"),
            valid: json!({"expires_in": 3600}),
            required: &[],
            bad: vec![(
                "expires_in",
                raw(&[
                    "-1",
                    "604801",
                    "99999999999",
                    "1.5",
                    "1e30",
                    TWO_POW_64,
                    TWO_POW_63,
                    "\"60\"",
                ]),
            )],
        },
        Endpoint {
            path: format!("/v1/webhook_deliveries/{delivery}/replay"),
            valid: json!({}),
            required: &[],
            bad: vec![],
        },
        Endpoint {
            path: "/v1/settings/email".into(),
            valid: json!({"merchant_address": "billing@example.com",
                "customer_emails": {"receipt": false}, "unpaid_summary_hour": 9}),
            required: &[],
            bad: vec![(
                "merchant_address",
                vec![
                    json!("not-an-email").to_string(),
                    json!("<script>@example.com").to_string(),
                    json!("\"quoted\"@example.com").to_string(),
                    json!("a,b@example.com").to_string(),
                ],
            )],
        },
        Endpoint {
            path: "/v1/settings/fiat".into(),
            valid: json!({"currency": "USD", "per_btc": "97500.00"}),
            required: &[],
            bad: vec![
                (
                    "currency",
                    vec![
                        json!("XXX").to_string(),
                        json!("usd").to_string(),
                        json!("US\u{0}").to_string(),
                        json!("U\u{202e}SD").to_string(),
                        json!(840).to_string(),
                    ],
                ),
                (
                    "per_btc",
                    vec![
                        json!("abc").to_string(),
                        json!("1.234").to_string(),
                        json!("0").to_string(),
                        json!("-1").to_string(),
                        json!("99999999999999999999999").to_string(),
                        json!("97500\u{0}").to_string(),
                        json!("١٠٠").to_string(),
                        json!(97500).to_string(),
                    ],
                ),
            ],
        },
        Endpoint {
            path: "/v1/test_clock/advance".into(),
            valid: json!({"seconds": 60}),
            required: &[],
            bad: vec![(
                "seconds",
                raw(&[
                    "-1",
                    "1e30",
                    TWO_POW_64,
                    TWO_POW_63,
                    "999999999999",
                    "1.5",
                    "\"60\"",
                ]),
            )],
        },
        Endpoint {
            path: "/v1/test_clock/advance".into(),
            valid: json!({"to": "2028-01-01T00:00:00Z"}),
            required: &[],
            bad: vec![(
                "to",
                vec![
                    json!("2020-01-01T00:00:00Z").to_string(),
                    json!("next tuesday").to_string(),
                    json!("+262143-12-31T23:59:59Z").to_string(),
                    json!("9999-12-31T23:59:59Z").to_string(),
                ],
            )],
        },
    ];
    for e in &endpoints {
        sweep(&api, e).await;
    }
    // Nothing was changed by all of that.
    let r = api.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(r.body["status"], "active", "{r:?}");
    assert_eq!(r.body["plan"], plan);
    let r = api.get(&format!("/v1/invoices/{invoice}")).await;
    assert_eq!(r.body["status"], "open", "{r:?}");
    let r = api.get("/v1/api_keys").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{r:?}");
    assert_eq!(r.body["data"][0]["revoked_at"], Value::Null);
    assert_eq!(
        api.get("/v1/plans").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = api.get("/v1/customers").await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["email"], "alice@example.com");
    let r = api.get("/v1/settings/email").await;
    assert_eq!(r.body["merchant_address"], Value::Null, "{r:?}");
    // The webhook endpoint is as it was (its secret not rotated either: that
    // would have changed `updated_at`), it is the only one, and its delivery
    // was not replayed.
    let r = api.get("/v1/webhook_endpoints").await;
    assert_eq!(r.body["data"], json!([endpoint_before]), "{r:?}");
    assert_eq!(endpoint_before["description"], "billing");
    assert_eq!(
        endpoint_before["enabled_events"],
        json!(["customer.created"])
    );
    assert_eq!(endpoint_before["previous_secret_expires_at"], Value::Null);
    assert_eq!(
        api.get(&deliveries_path).await.body["data"],
        deliveries_before
    );
    assert_eq!(receiver.count(), 1);
}

/// Bad values for a webhook endpoint's fields, on creation and update.
fn webhook_endpoint_fields(
    extra: &[(&'static str, Vec<String>)],
) -> Vec<(&'static str, Vec<String>)> {
    let mut bad = vec![
        (
            "url",
            vec![
                json!("not a url").to_string(),
                json!("").to_string(),
                json!("ftp://example.com/hook").to_string(),
                json!("javascript:alert(1)").to_string(),
                json!("https://user:pass@example.com/hook").to_string(),
                json!("http://").to_string(),
                json!("http://[::1/hook").to_string(),
                json!(format!("https://example.com/{}", "a".repeat(2048))).to_string(),
            ],
        ),
        (
            "enabled_events",
            vec![
                "[]".to_owned(),
                json!(["*", "invoice.paid"]).to_string(),
                json!(["invoice.bogus"]).to_string(),
                json!(["invoice.paid", ""]).to_string(),
                json!(["INVOICE.PAID"]).to_string(),
                "[1]".to_owned(),
                "[null]".to_owned(),
                json!([["invoice.paid"]]).to_string(),
                json!([{"type": "invoice.paid"}]).to_string(),
                json!(["x".repeat(5000)]).to_string(),
            ],
        ),
        ("description", vec![long(1001)]),
    ];
    bad.extend(extra.iter().cloned());
    bad
}

/// A NUL character (`%00`) in a path id, a cursor or any query parameter:
/// a 400 naming it on both backends (PostgreSQL cannot compare text with a
/// NUL in it), after the key is checked.
#[tokio::test]
async fn a_nul_in_an_id_a_cursor_or_a_query_parameter_is_a_400_naming_it() {
    let app = spawn_app().await;
    let api = app.api().await;
    let receiver = Receiver::start().await;
    let (webhook_endpoint, _) =
        crate::support::app::endpoint(&api, &receiver.url, json!(["*"])).await;
    let plan = api.monthly_plan().await;
    let customer = api.customer().await;
    let sub = api.subscription(&customer, &plan).await;
    app.deliver_webhooks().await;
    let delivery = api
        .get(&format!(
            "/v1/webhook_endpoints/{webhook_endpoint}/deliveries"
        ))
        .await
        .body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let invoice = api
        .get(&format!("/v1/invoices?subscription={sub}"))
        .await
        .body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = api.get("/v1/api_keys").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let event = api.get("/v1/events").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    use reqwest::Method;
    let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
    let routes: Vec<(Method, String)> = vec![
        (get.clone(), format!("/v1/plans/{plan}%00")),
        (post.clone(), format!("/v1/plans/{plan}%00")),
        (post.clone(), format!("/v1/plans/{plan}%00/archive")),
        (get.clone(), format!("/v1/customers/{customer}%00")),
        (post.clone(), format!("/v1/customers/{customer}%00")),
        (delete.clone(), format!("/v1/customers/%00{customer}")),
        (get.clone(), format!("/v1/subscriptions/{sub}%00")),
        (post.clone(), format!("/v1/subscriptions/{sub}%00")),
        (post.clone(), format!("/v1/subscriptions/{sub}%00/cancel")),
        (post.clone(), format!("/v1/subscriptions/{sub}%00/pause")),
        (post.clone(), format!("/v1/subscriptions/{sub}%00/resume")),
        (get.clone(), format!("/v1/invoices/{invoice}%00")),
        (post.clone(), format!("/v1/invoices/{invoice}%00/void")),
        (
            get.clone(),
            format!("/v1/invoices/{invoice}%00/payment_requests"),
        ),
        (get.clone(), format!("/v1/events/{event}%00")),
        (post.clone(), format!("/v1/api_keys/{key}%00/revoke")),
        (
            get.clone(),
            format!("/v1/webhook_endpoints/{webhook_endpoint}%00"),
        ),
        (
            post.clone(),
            format!("/v1/webhook_endpoints/{webhook_endpoint}%00"),
        ),
        (
            delete.clone(),
            format!("/v1/webhook_endpoints/{webhook_endpoint}%00"),
        ),
        (
            post.clone(),
            format!("/v1/webhook_endpoints/{webhook_endpoint}%00/rotate_secret"),
        ),
        (
            get.clone(),
            format!("/v1/webhook_endpoints/{webhook_endpoint}%00/deliveries"),
        ),
        (
            get.clone(),
            format!("/v1/webhook_deliveries/{delivery}%00/attempts"),
        ),
        (
            post.clone(),
            format!("/v1/webhook_deliveries/{delivery}%00/replay"),
        ),
        (delete.clone(), "/v1/node/peers/%00".to_owned()),
        (post.clone(), "/v1/node/channels/%00/close".to_owned()),
    ];
    for (method, path) in &routes {
        let r = api.send_raw(method.clone(), path, "{}").await;
        assert_error_shape(&r, &format!("{method} {path}"));
        assert_eq!(
            (r.status, r.code(), r.param()),
            (400, "parameter_invalid", "id"),
            "{method} {path}: {r:?}"
        );
        // Without a valid key it is a 401, as for any other request.
        let anonymous = app.api_with_key("pb_test_nope");
        let r = anonymous.send_raw(method.clone(), path, "{}").await;
        assert_eq!(r.status, 401, "{method} {path}: {r:?}");
    }

    let lists: Vec<(String, &[&str])> = vec![
        ("/v1/plans".into(), &["status"]),
        ("/v1/customers".into(), &[]),
        ("/v1/subscriptions".into(), &["customer", "status"]),
        (
            "/v1/invoices".into(),
            &["status", "customer", "subscription"],
        ),
        ("/v1/events".into(), &["type"]),
        ("/v1/api_keys".into(), &[]),
        ("/v1/webhook_endpoints".into(), &[]),
        (
            format!("/v1/webhook_endpoints/{webhook_endpoint}/deliveries"),
            &[],
        ),
        (format!("/v1/webhook_deliveries/{delivery}/attempts"), &[]),
    ];
    for (path, filters) in &lists {
        let params = ["limit", "starting_after", "ending_before"]
            .iter()
            .chain(filters.iter());
        for param in params {
            for value in ["%00", "a%00b", "sub_%00", "plan_1%00"] {
                let url = format!("{path}?{param}={value}");
                let r = api.get(&url).await;
                assert_error_shape(&r, &url);
                assert_eq!(
                    (r.status, r.code(), r.param()),
                    (400, "parameter_invalid", *param),
                    "{url}: {r:?}"
                );
            }
        }
        // The parameter's name itself.
        let url = format!("{path}?lim%00it=1");
        let r = api.get(&url).await;
        assert_eq!(r.status, 400, "{url}: {r:?}");
        assert!(r.param().contains("lim"), "{url}: {r:?}");
    }
}
