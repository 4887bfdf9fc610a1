//! The error pages of every part a browser sees (the dashboard, the hosted
//! signup pages, the customer portal) carry the "sandbox" label on the
//! sandbox, whether a handler answered with them or the pre-handler screen
//! refused the request (a POST without its CSRF token), and no label off it.

use crate::support::app::{TestApp, spawn_app, spawn_app_with};
use crate::support::dashboard::Dashboard;

/// (path, what a GET of it answers) and (path, what a POST without a CSRF
/// token answers), for each part.
async fn error_pages(app: &TestApp) -> Vec<(String, u16, Option<&'static str>)> {
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let link = format!("/s/{}", plan.signup_link);
    vec![
        ("/dashboard/no-such-page".to_owned(), 404, None),
        ("/dashboard/login".to_owned(), 403, Some("email")),
        (format!("/s/{}", "a".repeat(26)), 404, None),
        (format!("{link}/subscribe"), 403, Some("email")),
        (
            "/portal/mer_00000000000000000000000000".to_owned(),
            404,
            None,
        ),
        (format!("/portal/{}", merchant.id), 403, Some("email")),
    ]
}

async fn check(app: &TestApp, labelled: bool) {
    let mut web = Dashboard::new(app);
    for (path, status, posted_field) in error_pages(app).await {
        let page = match posted_field {
            None => web.get(&path).await,
            Some(field) => web.post_raw(&path, &[(field, "a@example.com")]).await,
        };
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert_eq!(
            page.has_id("sandbox"),
            labelled,
            "{path} ({status}) labelled sandbox: {}",
            page.body
        );
    }
}

#[tokio::test]
async fn on_the_sandbox_every_error_page_says_sandbox() {
    check(&spawn_app().await, true).await;
}

#[tokio::test]
async fn off_the_sandbox_no_error_page_says_sandbox() {
    let app = spawn_app_with(|s| s.app.network = pushbill::config::Network::Signet).await;
    check(&app, false).await;
}
