//! The customer portal end to end: the sign-in email really goes out
//! through a real SMTP server (aiosmtpd) and its link signs the customer
//! in; customer emails carry the "Manage your subscription" link; and in
//! headless chromium a customer follows a sign-in link, sees their
//! subscriptions and invoices, opens an invoice's pay page, cancels at
//! period end and signs out, with every request on pushbill's origin.
//! Screenshots go to `target/tmp/portal-screenshots/`.

use std::path::PathBuf;

use pushbill::notify::email::outbox::REDACTED;
use serde_json::json;

use crate::support::app::Api;
use crate::support::browser::Chromium;
use crate::support::dashboard::Dashboard;
use crate::support::email::{drain, mailing_app, rows, with_subject};
use crate::support::portal::{api_link, link_in, sign_in};
use crate::support::smtp::part;

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("portal-screenshots")
}

/// A customer with `email` on a monthly plan: (customer, subscription).
async fn subscriber(api: &Api, email: &str) -> (String, String) {
    let r = api
        .post("/v1/customers", json!({"email": email, "name": "Alice"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let customer = r.id();
    let plan = api.monthly_plan().await;
    let sub = api.subscription(&customer, &plan).await;
    (customer, sub)
}

#[tokio::test]
async fn the_sign_in_email_goes_out_by_smtp_and_its_link_signs_the_customer_in() {
    let (server, app) = mailing_app().await;
    let api = app.api().await;
    let (_, sub) = subscriber(&api, "Alice@example.com").await;
    let page = format!("/portal/{}", api.merchant_id);
    let mut web = Dashboard::new(&app);
    let asked = web
        .post(&page, &page, &[("email", "alice@EXAMPLE.com")])
        .await;
    assert!(asked.has_id("sent"), "{}", asked.body);

    let done = drain(&app).await;
    assert_eq!(done.failed_attempts, 0);
    let received = server.messages();
    let mail = with_subject(&received, "your sign-in link");
    assert_eq!(mail.len(), 1, "{received:#?}");
    let m = mail[0];
    assert_eq!(m["headers"]["subject"], "Bobflix: your sign-in link");
    assert_eq!(m["rcpt_tos"], json!(["Alice@example.com"]));
    let (text, html) = (part(m, "text/plain"), part(m, "text/html"));
    let link = link_in(text).expect("a link in the text part");
    assert_eq!(link_in(html).as_deref(), Some(link.as_str()));
    assert!(
        text.contains(&format!("{}{link}", app.context.settings.app.base_url)),
        "{text}"
    );
    // Once sent, the outbox no longer holds the link.
    let row = rows(&app, "portal_link").await.remove(0);
    assert_eq!(row.status, "sent");
    assert_eq!(row.body_text, REDACTED);
    assert!(!row.body_html.contains(&link));

    sign_in(&mut web, &link).await;
    let home = web.get("/portal").await;
    assert_eq!(home.status, 200);
    assert!(home.has_id(&sub), "{}", home.body);

    // A customer email (the receipt of the first invoice) links to the portal.
    let invoice = app.invoices_of(&sub).await.remove(0);
    app.pay(&invoice.id).await;
    drain(&app).await;
    let received = server.messages();
    let receipt = with_subject(&received, "receipt");
    assert_eq!(receipt.len(), 1, "{received:#?}");
    let portal = format!(
        "{}/portal/{}",
        app.context.settings.app.base_url, api.merchant_id
    );
    assert!(
        part(receipt[0], "text/plain").contains(&format!("Manage your subscription: {portal}")),
        "{}",
        part(receipt[0], "text/plain")
    );
    assert!(part(receipt[0], "text/html").contains(&format!("href=\"{portal}\"")));
}

#[tokio::test]
async fn a_customer_follows_the_link_sees_their_billing_and_cancels_at_period_end() {
    let (_server, app) = mailing_app().await;
    let api = app.api().await;
    let (customer, sub) = subscriber(&api, "alice@example.com").await;
    let invoice = app.invoices_of(&sub).await.remove(0);
    let link = api_link(&api, &customer).await;
    let shots = screenshots();
    let chromium = Chromium::launch().await;

    // The merchant's portal page, where a customer asks for a link.
    let tab = chromium
        .open(&format!("{}/portal/{}", app.address, api.merchant_id))
        .await;
    assert_eq!(tab.text("#merchant-name").await.as_deref(), Some("Bobflix"));
    tab.screenshot(&shots, "request").await;
    tab.fill("#email", "alice@example.com").await;
    tab.submit("#send-link").await;
    assert!(tab.text("#sent").await.is_some(), "{}", tab.html().await);
    tab.screenshot(&shots, "request-sent").await;

    // The link: a page with the button that signs in.
    tab.goto(&format!("{}{link}", app.address)).await;
    tab.screenshot(&shots, "sign-in").await;
    tab.submit("#sign-in").await;
    assert_eq!(tab.url().await, format!("{}/portal", app.address));
    assert_eq!(tab.text("#customer-name").await.as_deref(), Some("Alice"));
    // (The badges are shown in capitals: text-transform.)
    let badge = |id: String| {
        let tab = &tab;
        async move {
            tab.text(&format!("#status-{id}"))
                .await
                .map(|t| t.to_lowercase())
        }
    };
    assert_eq!(badge(sub.clone()).await.as_deref(), Some("active"));
    assert_eq!(badge(invoice.id.clone()).await.as_deref(), Some("open"));
    let row = tab.text(&format!("[id=\"{}\"]", invoice.id)).await.unwrap();
    assert!(
        row.contains(&invoice.number) && row.contains("10000 sat"),
        "{row}"
    );
    tab.screenshot(&shots, "portal").await;

    // Pay: the invoice's pay page.
    tab.submit(&format!("#pay-{}", invoice.id)).await;
    assert!(tab.url().await.contains("/pay/"), "{}", tab.url().await);
    assert!(tab.html().await.contains(&invoice.number));
    tab.screenshot(&shots, "pay-page").await;

    // Cancel at period end.
    tab.goto(&format!("{}/portal", app.address)).await;
    tab.submit(&format!("#cancel-{sub}")).await;
    assert!(tab.text("#notice").await.is_some(), "{}", tab.html().await);
    assert!(tab.text(&format!("#ends-{sub}")).await.is_some());
    assert!(tab.text(&format!("#cancel-{sub}")).await.is_none());
    let r = api.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(r.body["cancel_at_period_end"], true, "{r:?}");
    tab.screenshot(&shots, "canceled-at-period-end").await;

    // A bad email is answered at the field.
    // (An address the browser's own check lets through: pushbill wants a
    // dot in the domain.)
    tab.page
        .evaluate("document.getElementById('email').value = ''")
        .await
        .unwrap();
    tab.fill("#email", "alice@localhost").await;
    tab.submit("#update-email").await;
    assert!(
        tab.text("#error-email").await.is_some(),
        "{}",
        tab.html().await
    );
    tab.screenshot(&shots, "email-refused").await;

    // Sign out: the portal asks to sign in again; the used link is spent.
    tab.goto(&format!("{}/portal", app.address)).await;
    tab.submit("#logout").await;
    assert_eq!(
        tab.url().await,
        format!("{}/portal/{}", app.address, api.merchant_id)
    );
    tab.goto(&format!("{}/portal", app.address)).await;
    assert!(tab.text("#signed-out").await.is_some());
    tab.goto(&format!("{}{link}", app.address)).await;
    assert!(tab.text("#link-used").await.is_some());
    tab.screenshot(&shots, "link-used").await;

    let requests = tab.requests();
    assert!(
        requests
            .iter()
            .any(|u| u.ends_with("/static/css/portal.css")),
        "{requests:?}"
    );
    let foreign: Vec<&String> = requests
        .iter()
        .filter(|u| !u.starts_with(&app.address) && u.as_str() != "about:blank")
        .collect();
    assert!(
        foreign.is_empty(),
        "requests off pushbill's origin: {foreign:?}"
    );
    chromium.close().await;
}
