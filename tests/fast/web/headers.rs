//! Every response carries the security headers: the pay page, its
//! stylesheet, the API reference, a 404 page and the JSON API alike.

use pushbill::store::pay_links;
use serde_json::json;

use crate::support::app::spawn_app;

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1_000_000}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let invoice = app.invoice(&r.id()).await;
    let token = pay_links::token_for(&app.db, app.now(), &invoice)
        .await
        .unwrap();

    let pages = [
        (format!("/pay/{token}"), 200, "no-referrer"),
        ("/pay/not-a-token".to_owned(), 404, "no-referrer"),
        ("/static/css/pay.css".to_owned(), 200, "same-origin"),
        ("/docs/api".to_owned(), 200, "same-origin"),
        ("/v1/plans".to_owned(), 401, "same-origin"),
        ("/healthz".to_owned(), 200, "same-origin"),
    ];
    for (path, status, referrer) in pages {
        let response = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "style-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), referrer, "{path}");
    }
}
