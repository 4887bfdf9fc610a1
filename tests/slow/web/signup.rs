//! The hosted signup pages in headless chromium with real LDK nodes: (1) a
//! merchant signs up in the dashboard, creates a plan and opens its signup
//! link; a customer subscribes the pay-it-myself way and pays the first
//! invoice from an LDK node with a channel to the merchant's node; the page
//! shows the confirmation by itself and the dashboard shows the
//! subscription active and the invoice paid. (2) the auto-pay way: the page
//! shows a code, a real payer runs `pushbill payer subscribe CODE --yes`,
//! and the page turns into the confirmation by itself once the first
//! invoice is paid; a trial plan's welcome page and the 404 page. Every
//! request the pages make stays on pushbill's origin; screenshots go to
//! `target/tmp/signup-screenshots/`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pushbill::billing::payments;
use pushbill::node::issuer::NodeIssuer;
use pushbill::store::{invoices, subscriptions};
use sea_orm::EntityTrait;

use crate::support::browser::{Chromium, Tab};
use crate::support::dashboard::PASSWORD;
use crate::support::deployment::{Deployment, payer_command, payer_options, payer_with_channel};

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("signup-screenshots")
}

/// Waits until the page (reloading itself) has an element `selector`.
async fn wait_for_element(tab: &Tab, selector: &str) {
    for _ in 0..300 {
        if tab.text(selector).await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the page never showed {selector} by itself: {}",
        tab.html().await
    );
}

/// Every request stayed on pushbill's origin, and the pages' own script
/// and stylesheet were loaded.
fn assert_same_origin(tab: &Tab, origin: &str) {
    let requests = tab.requests();
    for asset in ["/static/js/signup.js", "/static/css/signup.css"] {
        assert!(
            requests.iter().any(|u| u.ends_with(asset)),
            "{asset} in {requests:?}"
        );
    }
    assert!(
        requests.iter().any(|u| u.contains("/status")),
        "the page polled its status: {requests:?}"
    );
    let foreign: Vec<&String> = requests
        .iter()
        .filter(|u| !u.starts_with(origin) && u.as_str() != "about:blank")
        .collect();
    assert!(
        foreign.is_empty(),
        "requests off pushbill's origin: {foreign:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_signs_up_to_pay_each_invoice_and_pays_the_first_from_a_node() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shots = screenshots();
    let chromium = Chromium::launch().await;

    // The merchant signs up and creates a plan in the dashboard.
    let tab = chromium
        .open(&format!("{}/dashboard/signup", app.address))
        .await;
    tab.fill("#business_name", "Bobflix").await;
    tab.fill("#email", "bob@example.com").await;
    tab.fill("#password", PASSWORD).await;
    tab.submit("#signup").await;
    tab.goto(&format!("{}/dashboard/plans/new", app.address))
        .await;
    tab.fill("#name", "Gold <b>plan</b>").await;
    tab.fill("#amount_sat", "21000").await;
    tab.submit("#create-plan").await;
    let url = tab.text("#signup-url").await.expect("the signup link");
    assert!(tab.text("#copy-signup-url").await.is_some());
    assert!(
        tab.html().await.contains("id=\"signup-qr\""),
        "the link's QR code"
    );
    tab.screenshot(&shots, "dashboard-plan").await;
    // The link is absolute under app.base_url; the test's app listens on
    // its own port.
    let path = &url[url.find("/s/").expect("a signup address")..];
    let dashboard_requests = tab.requests();

    // The customer opens it.
    let page = chromium.open(&format!("{}{path}", app.address)).await;
    assert_eq!(page.text("#merchant").await.as_deref(), Some("Bobflix"));
    assert_eq!(
        page.text("#plan-name").await.as_deref(),
        Some("Gold <b>plan</b>"),
        "a name is shown as text"
    );
    assert_eq!(
        page.text("#plan-price").await.as_deref(),
        Some("21000 sat every month")
    );
    assert!(page.text("#sandbox").await.is_some(), "labelled sandbox");
    page.screenshot(&shots, "plan").await;

    // A bad email is answered at the field.
    // (One the browser lets through: a domain of one label.)
    page.fill("#email", "carol@localhost").await;
    page.submit("#subscribe").await;
    assert!(
        page.text("#error-email").await.is_some(),
        "{}",
        page.html().await
    );
    page.screenshot(&shots, "plan-bad-email").await;

    page.page
        .evaluate("document.getElementById('email').value = ''")
        .await
        .unwrap();
    page.fill("#email", "carol@example.com").await;
    page.fill("#name", "Carol").await;
    page.submit("#subscribe").await;
    assert!(
        page.url().await.contains("/invoices/"),
        "{}",
        page.html().await
    );
    page.screenshot(&shots, "invoice-preparing").await;

    // The node issues the BOLT11: the page shows it by itself. Its expiry
    // counts from the wall clock and the test clock starts in December
    // 2027: a long expiry keeps it payable at billing time.
    payments::issue_pending(
        &app.db,
        &NodeIssuer(Arc::clone(&deployment.node)),
        app.now(),
        chrono::Duration::days(400),
        10,
    )
    .await
    .unwrap();
    wait_for_element(&page, "#bolt11").await;
    let bolt11 = page.text("#bolt11").await.unwrap();
    assert!(bolt11.starts_with("lnbcrt210u"), "21,000 sat: {bolt11}");
    assert!(page.html().await.contains("<svg"), "the QR code");
    page.screenshot(&shots, "invoice").await;

    // A customer's LDK node with a channel to the merchant's pays it.
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&deployment, dir.path(), payer_options(app)).await;
    payer
        .node()
        .pay_invoice(&bolt11, Duration::from_secs(30))
        .await
        .expect("the payment");
    wait_for_element(&page, "#confirmation").await;
    page.screenshot(&shots, "invoice-paid").await;
    assert_same_origin(&page, &app.address);

    // The dashboard shows the subscription active and the invoice paid.
    let sub = subscriptions::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("the subscription");
    let invoice = invoices::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("the invoice");
    tab.goto(&format!(
        "{}/dashboard/subscriptions/{}",
        app.address, sub.id
    ))
    .await;
    assert_eq!(tab.text("#sub-status").await.as_deref(), Some("active"));
    tab.screenshot(&shots, "dashboard-subscription").await;
    tab.goto(&format!(
        "{}/dashboard/invoices/{}",
        app.address, invoice.id
    ))
    .await;
    assert_eq!(tab.text("#invoice-status").await.as_deref(), Some("paid"));
    tab.screenshot(&shots, "dashboard-invoice").await;
    let foreign: Vec<String> = tab
        .requests()
        .into_iter()
        .chain(dashboard_requests)
        .filter(|u| !u.starts_with(&app.address) && u != "about:blank")
        .collect();
    assert!(foreign.is_empty(), "{foreign:?}");

    chromium.close().await;
    payer.stop().await;
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_auto_pays_from_their_node_and_the_page_confirms_by_itself() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shop = deployment.merchant("Bobflix", "BOB").await;
    let plan = shop.monthly_plan().await;
    let link = shop.get(&format!("/v1/plans/{plan}")).await.body["signup_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &link[link.find("/s/").unwrap()..];
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&deployment, dir.path(), payer_options(app)).await;

    let shots = screenshots();
    let chromium = Chromium::launch().await;
    let page = chromium.open(&format!("{}{path}", app.address)).await;
    page.submit("#get-code").await;
    let code = page.text("#code").await.expect("a subscribe code");
    let command = page.text("#command").await.unwrap();
    assert_eq!(command, format!("pushbill payer subscribe {code}"));
    assert!(
        code.contains(&deployment.node.node_id().to_string()),
        "{code}"
    );
    assert!(page.html().await.contains("<svg"), "the code's QR");
    page.screenshot(&shots, "code").await;

    let out = payer_command(dir.path(), &["subscribe", &code, "--yes"], "")
        .await
        .expect("payer subscribe");
    assert!(out.contains("Subscribed"), "{out}");
    // The handshake made the subscription; its first invoice is pushed and
    // paid inside the grant.
    let sub = subscriptions::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("the subscription");
    deployment.issue().await;
    let invoice = app
        .invoices_of(&sub.id)
        .await
        .into_iter()
        .next()
        .expect("the first invoice");
    let push = deployment.push(&invoice.id).await;
    assert_eq!(push.status, "accepted");
    deployment.wait_paid(&invoice.id).await;
    wait_for_element(&page, "#confirmation").await;
    assert_eq!(
        page.text("#subscription-id").await.as_deref(),
        Some(sub.id.as_str())
    );
    page.screenshot(&shots, "code-confirmed").await;
    assert_same_origin(&page, &app.address);

    // The other pages: a trial plan's welcome, and the 404 page.
    let trial = shop
        .post(
            "/v1/plans",
            serde_json::json!({"name": "Trial", "amount_msat": 5_000_000,
                "interval": "month", "trial_period_days": 14}),
        )
        .await;
    let url = trial.body["signup_url"].as_str().unwrap();
    let other = chromium
        .open(&format!(
            "{}{}",
            app.address,
            &url[url.find("/s/").unwrap()..]
        ))
        .await;
    assert_eq!(
        other.text("#plan-trial").await.as_deref(),
        Some("14 days free")
    );
    other.fill("#email", "trial@example.com").await;
    other.submit("#subscribe").await;
    assert!(other.url().await.ends_with("/welcome"));
    assert!(other.text("#confirmation").await.is_some());
    other.screenshot(&shots, "welcome").await;
    other
        .goto(&format!("{}/s/{}", app.address, "a".repeat(26)))
        .await;
    assert_eq!(
        other.text("#message-title").await.as_deref(),
        Some("Page not found")
    );
    other.screenshot(&shots, "not-found").await;
    let foreign: Vec<String> = other
        .requests()
        .into_iter()
        .filter(|u| !u.starts_with(&app.address) && u != "about:blank")
        .collect();
    assert!(foreign.is_empty(), "{foreign:?}");

    chromium.close().await;
    payer.stop().await;
    deployment.stop().await;
}

/// The wallet way, in chromium: a subscriber pastes a Nostr Wallet Connect
/// string from their wallet (a real payer offering NIP-47 over an
/// in-process relay) under "Auto-pay from my wallet"; the first invoice's
/// page confirms by itself once the wallet has paid. In the portal the
/// subscription says it is paid by the wallet, and "Disconnect the wallet"
/// takes it back to the pay page. No page ever shows the string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_auto_pays_from_their_wallet_and_disconnects_it_in_the_portal() {
    use crate::support::nwc::{Relay, secret_of, send_until_settled, sender, wallet_payer};

    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shop = deployment.merchant("Bobflix", "BOB").await;
    let plan = shop.monthly_plan().await;
    let link = shop.get(&format!("/v1/plans/{plan}")).await.body["signup_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &link[link.find("/s/").unwrap()..];
    let relay = Relay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (payer, uri) = wallet_payer(&deployment, dir.path(), &relay, 50_000_000).await;
    let secret = secret_of(&uri);

    let shots = screenshots();
    let chromium = Chromium::launch().await;
    let page = chromium.open(&format!("{}{path}", app.address)).await;
    page.fill("#wallet-email", "wallet@example.com").await;
    page.fill("#nwc-uri", &uri).await;
    page.screenshot(&shots, "wallet-form").await;
    page.submit("#subscribe-wallet").await;
    assert!(
        page.url().await.contains("/invoices/"),
        "{}",
        page.url().await
    );
    let sub = subscriptions::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .expect("the subscription");
    assert_eq!(sub.payment_method, "nwc");
    deployment.issue().await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    let wallets = sender(app, Duration::from_secs(20), 3);
    send_until_settled(&deployment, &wallets, &invoice.id).await;
    deployment.wait_paid(&invoice.id).await;
    wait_for_element(&page, "#confirmation").await;
    page.screenshot(&shots, "wallet-confirmed").await;
    assert!(!page.html().await.contains(&secret));
    assert_same_origin(&page, &app.address);

    // The portal: paid by the wallet; disconnect it.
    let portal = crate::support::portal::api_link(&shop, &sub.customer_id).await;
    let tab = chromium.open(&format!("{}{portal}", app.address)).await;
    tab.submit("#sign-in").await;
    let paid_by = format!("#payment-{}", sub.id);
    assert_eq!(
        tab.text(&paid_by).await.as_deref(),
        Some("Your wallet (pushbill-payer), automatically, within a budget of 50000 sat monthly")
    );
    assert!(!tab.html().await.contains(&secret));
    tab.screenshot(&shots, "portal-wallet").await;
    tab.submit(&format!("#remove-wallet-{}", sub.id)).await;
    assert!(
        tab.text("#notice")
            .await
            .is_some_and(|n| n.contains("disconnected"))
    );
    assert_eq!(
        tab.text(&paid_by).await.as_deref(),
        Some("By email and the pay page")
    );
    let method = shop
        .get(&format!("/v1/subscriptions/{}/payment_method", sub.id))
        .await;
    assert_eq!(
        (
            method.body["method"].clone(),
            method.body["wallet_connection"].clone()
        ),
        (serde_json::json!("push"), serde_json::json!(null))
    );
    chromium.close().await;
    payer.stop().await;
    deployment.stop().await;
}
