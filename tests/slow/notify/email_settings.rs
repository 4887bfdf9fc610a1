//! /v1/settings/email: a switch turned off through the API keeps that email
//! from a real SMTP server (aiosmtpd). Reading, changing and validating the
//! settings is tested in the fast binary (fast/notify/email_settings.rs).

use chrono::Duration;
use serde_json::json;

use crate::support::email::{drain, mailing_app, rows};

#[tokio::test]
async fn a_customer_email_turned_off_through_the_api_is_not_sent() {
    let (server, app) = mailing_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/settings/email",
            json!({"customer_emails": {"receipt": false}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let plan = api.monthly_plan().await;
    let customer = api.customer().await;
    let sub = api.subscription(&customer, &plan).await;

    let first = app.invoices_of(&sub).await.remove(0);
    app.pay(&first.id).await;
    let done = drain(&app).await;
    assert_eq!(done.failed_attempts, 0);
    assert!(rows(&app, "receipt").await.is_empty());
    assert!(
        server.messages().iter().all(|m| !m["headers"]["subject"]
            .as_str()
            .unwrap()
            .contains("receipt")),
        "{:#?}",
        server.messages()
    );

    // On again through the API: the next period's receipt arrives.
    let r = api
        .post(
            "/v1/settings/email",
            json!({"customer_emails": {"receipt": true}}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    app.advance(Duration::days(32)).await;
    let second = app
        .invoices_of(&sub)
        .await
        .into_iter()
        .find(|i| i.id != first.id)
        .expect("the next period's invoice");
    app.pay(&second.id).await;
    drain(&app).await;
    let receipts: Vec<_> = server
        .messages()
        .into_iter()
        .filter(|m| {
            m["headers"]["subject"]
                .as_str()
                .unwrap()
                .contains("receipt")
        })
        .collect();
    assert_eq!(receipts.len(), 1, "{receipts:#?}");
    assert!(
        receipts[0]["headers"]["subject"]
            .as_str()
            .unwrap()
            .contains(&second.number)
    );
    assert_eq!(receipts[0]["headers"]["to"], "alice@example.com");
}
