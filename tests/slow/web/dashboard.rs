//! The merchant dashboard in headless chromium over the DevTools protocol:
//! a merchant signs up, creates a plan and sees it listed, has a
//! subscription made through the API, cancels it at period end from its
//! page and signs out; a wrong password is refused. Every request the pages
//! make stays on pushbill's origin. Screenshots of the pages go to
//! `target/tmp/dashboard-screenshots/`.

use std::path::PathBuf;

use pushbill::auth::api_keys::{self, Mode};

use crate::support::app::{Api, spawn_app};
use crate::support::browser::Chromium;
use crate::support::dashboard::{PASSWORD, merchant_of};

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots")
}

#[tokio::test]
async fn a_merchant_signs_up_creates_a_plan_and_cancels_a_subscription_at_period_end() {
    let app = spawn_app().await;
    let shots = screenshots();
    let chromium = Chromium::launch().await;
    let tab = chromium
        .open(&format!("{}/dashboard/signup", app.address))
        .await;
    tab.screenshot(&shots, "signup").await;
    tab.fill("#business_name", "Bobflix <script>alert(1)</script>")
        .await;
    tab.fill("#email", "bob@example.com").await;
    tab.fill("#password", PASSWORD).await;
    tab.submit("#signup").await;
    assert_eq!(
        tab.url().await,
        format!("{}/dashboard", app.address),
        "{}",
        tab.html().await
    );
    assert_eq!(
        tab.text("#merchant-name").await.as_deref(),
        Some("Bobflix <script>alert(1)</script>"),
        "a name is shown as text"
    );
    assert!(tab.text("#sandbox").await.is_some(), "labelled sandbox");
    assert_eq!(tab.text("#count-active").await.as_deref(), Some("0"));

    // A plan.
    tab.goto(&format!("{}/dashboard/plans/new", app.address))
        .await;
    tab.fill("#name", "Gold").await;
    tab.fill("#amount_sat", "21000").await;
    tab.screenshot(&shots, "plan-new").await;
    tab.submit("#create-plan").await;
    assert_eq!(tab.text("#plan-name").await.as_deref(), Some("Gold"));
    assert_eq!(tab.text("#plan-price").await.as_deref(), Some("21000 sat"));
    assert_eq!(
        tab.text("#plan-schedule").await.as_deref(),
        Some("every month")
    );
    let plan_id = tab.text("#plan-id").await.unwrap();
    tab.goto(&format!("{}/dashboard/plans", app.address)).await;
    assert!(tab.html().await.contains(&format!("id=\"{plan_id}\"")));
    tab.screenshot(&shots, "plans").await;

    // A subscription made through the API with the merchant's key.
    let merchant = merchant_of(&app, "bob@example.com").await;
    let key = api_keys::create(&app.db, app.now(), &merchant.id, "Test", Mode::Test)
        .await
        .unwrap();
    let api = Api {
        address: app.address.clone(),
        http: app.http.clone(),
        merchant_id: merchant.id.clone(),
        key: key.secret,
    };
    let customer = api.customer().await;
    let sub = api.subscription(&customer, &plan_id).await;

    tab.goto(&format!("{}/dashboard/subscriptions/{sub}", app.address))
        .await;
    assert_eq!(tab.text("#sub-status").await.as_deref(), Some("active"));
    assert!(
        tab.html().await.contains("subscription.created"),
        "the timeline"
    );
    tab.submit("#cancel-at-end").await;
    assert!(tab.text("#cancel-at-period-end").await.is_some());
    assert_eq!(tab.text("#sub-status").await.as_deref(), Some("active"));
    assert!(app.subscription(&sub).await.cancel_at_period_end);
    assert_eq!(
        api.get(&format!("/v1/subscriptions/{sub}")).await.body["cancel_at_period_end"],
        true
    );
    tab.screenshot(&shots, "subscription").await;

    for (path, name) in [
        ("/dashboard", "overview"),
        ("/dashboard/subscriptions", "subscriptions"),
        ("/dashboard/customers", "customers"),
        ("/dashboard/invoices", "invoices"),
        ("/dashboard/developers", "developers"),
        ("/dashboard/team", "team"),
        ("/dashboard/webhooks", "webhooks"),
        ("/dashboard/emails", "emails"),
        ("/dashboard/settings/email", "email-settings"),
    ] {
        tab.goto(&format!("{}{path}", app.address)).await;
        assert!(tab.text("#merchant-name").await.is_some(), "{path}");
        tab.screenshot(&shots, name).await;
    }

    // A fiat rate set in the browser is saved and shown.
    tab.goto(&format!("{}/dashboard/settings/fiat", app.address))
        .await;
    tab.fill("#per_btc", "97500").await;
    tab.submit("#save").await;
    assert!(tab.text("#saved").await.is_some(), "{}", tab.html().await);
    let current = tab.text("#current").await.unwrap();
    assert!(current.contains("1 BTC = 97,500.00 USD"), "{current}");
    tab.screenshot(&shots, "fiat-settings").await;

    // The sandbox's clock, moved a month from its page: the subscription
    // set to cancel at its period's end ends.
    tab.goto(&format!("{}/dashboard/sandbox", app.address))
        .await;
    let before = tab.text("#clock").await.unwrap();
    tab.submit("#advance-month").await;
    let after = tab.text("#clock").await.unwrap();
    assert_ne!(before, after, "the clock moved");
    tab.screenshot(&shots, "sandbox").await;
    assert_eq!(app.subscription(&sub).await.status, "canceled");

    // Sign out: the dashboard asks to sign in again.
    tab.submit("#logout").await;
    assert_eq!(tab.url().await, format!("{}/dashboard/login", app.address));
    tab.goto(&format!("{}/dashboard/plans", app.address)).await;
    assert_eq!(tab.url().await, format!("{}/dashboard/login", app.address));

    // A wrong password is refused; the right one signs in.
    tab.fill("#email", "bob@example.com").await;
    tab.fill("#password", "not my password").await;
    tab.submit("#login").await;
    assert_eq!(
        tab.text("#error-password").await.as_deref(),
        Some("Wrong email or password.")
    );
    tab.screenshot(&shots, "login-refused").await;
    tab.fill("#email", "").await;
    tab.fill("#password", PASSWORD).await;
    tab.submit("#login").await;
    assert_eq!(tab.url().await, format!("{}/dashboard", app.address));

    let requests = tab.requests();
    assert!(
        requests
            .iter()
            .any(|u| u.ends_with("/static/css/dashboard.css")),
        "{requests:?}"
    );
    let foreign: Vec<&String> = requests
        .iter()
        .filter(|u| !u.starts_with(&app.address) && u.as_str() != "about:blank")
        .collect();
    assert!(
        foreign.is_empty(),
        "requests left pushbill's origin: {foreign:?}"
    );
    chromium.close().await;
}
