//! The customer portal over plain HTTP: asking for a sign-in link answers
//! the same for known and unknown addresses and is throttled; links work
//! once and for 15 minutes of the merchant's clock; the API makes links for
//! the merchant's own customers only; every form needs its CSRF token;
//! another customer's objects answer 404; cancel at period end and email
//! updates go through the same service functions as the API; names are
//! shown escaped. The email itself going out: tests/slow/web/portal.rs.

use pushbill::auth::api_keys::Mode;
use pushbill::catalog;
use pushbill::store::{outgoing_emails, portal_links, portal_sessions};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::app::{Api, TestApp};
use crate::support::dashboard::Dashboard;
use crate::support::email::{app_with_smtp, rows};
use crate::support::portal::{api_link, link_in, path_of, sign_in};
use crate::support::smtp::free_port;

/// An app that queues email (to an SMTP port nobody listens on: the web
/// role only queues; sending is the worker's, tested in the slow binary).
async fn app() -> TestApp {
    app_with_smtp(free_port()).await
}

/// A customer with `email` on a monthly plan: (customer, subscription).
async fn subscriber(api: &Api, email: &str, name: &str) -> (String, String) {
    let r = api
        .post("/v1/customers", json!({"email": email, "name": name}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let customer = r.id();
    let plan = api.monthly_plan().await;
    let sub = api.subscription(&customer, &plan).await;
    (customer, sub)
}

/// A second merchant on the same deployment, with its own API key.
async fn merchant_named(app: &TestApp, name: &str, prefix: &str) -> Api {
    let (merchant, key) = catalog::merchants::create_with_api_key(
        &app.db,
        app.now(),
        name,
        prefix,
        Mode::Test,
        false,
    )
    .await
    .unwrap();
    Api {
        address: app.address.clone(),
        http: app.http.clone(),
        merchant_id: merchant.id,
        key: key.secret,
    }
}

async fn portal_emails(app: &TestApp) -> Vec<outgoing_emails::Model> {
    rows(app, "portal_link").await
}

fn sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The page's body without its CSRF token (which differs per browser).
fn without_csrf(body: &str) -> String {
    match crate::support::dashboard::csrf_in(body) {
        Some(token) => body.replace(&token, "CSRF"),
        None => body.to_owned(),
    }
}

#[tokio::test]
async fn asking_for_a_link_answers_the_same_whether_or_not_the_email_is_a_customers() {
    let app = app().await;
    let api = app.api().await;
    let (customer, sub) = subscriber(&api, "Alice.Smith@Example.com", "Alice").await;
    let page_path = format!("/portal/{}", api.merchant_id);

    let mut web = Dashboard::new(&app);
    let form = web.get(&page_path).await;
    assert_eq!(form.status, 200);
    assert!(
        form.has_id("request") && form.has_id("email"),
        "{}",
        form.body
    );
    assert!(form.body.contains("Bobflix"));
    assert!(form.has_id("sandbox"), "labelled sandbox");

    // Known (another case, in the local part too) and unknown addresses.
    let known = web
        .post(
            &page_path,
            &page_path,
            &[("email", "alice.smith@EXAMPLE.COM")],
        )
        .await;
    let unknown = web
        .post(&page_path, &page_path, &[("email", "mallory@example.com")])
        .await;
    assert_eq!((known.status, unknown.status), (200, 200));
    assert!(known.has_id("sent"), "{}", known.body);
    assert_eq!(
        without_csrf(&known.body),
        without_csrf(&unknown.body),
        "no enumeration: the answer is the same"
    );
    assert!(!known.body.contains("Alice"));

    // One email, to the address the merchant has, with a link whose token
    // is stored only as its SHA-256.
    let queued = portal_emails(&app).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].to_address, "Alice.Smith@example.com");
    let link = link_in(&queued[0].body_text).expect("a link in the email");
    let token = link.trim_start_matches("/portal/login/");
    assert_eq!(token.len(), 43, "32 random bytes, base64url");
    let stored = portal_links::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].token_hash, sha256(token));
    assert_eq!(stored[0].customer_id, customer);
    assert_eq!(stored[0].source, "email");
    assert!(queued[0].body_html.contains(&link));

    // The link signs in to the customer's own page.
    sign_in(&mut web, &link).await;
    let home = web.get("/portal").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.has_id(&sub), "{}", home.body);
    assert!(home.has_id(&format!("cancel-{sub}")));
    assert!(home.body.contains("10000 sat every month"), "{}", home.body);

    // An unknown merchant has no portal page.
    assert_eq!(web.get("/portal/mer_nobody").await.status, 404);
    // An invalid address gets a message at the field.
    let bad = web
        .post(&page_path, &page_path, &[("email", "not an email")])
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.has_id("error-email"), "{}", bad.body);
}

#[tokio::test]
async fn a_link_works_once_and_a_used_one_offers_a_new_one() {
    let app = app().await;
    let api = app.api().await;
    let (customer, _) = subscriber(&api, "alice@example.com", "Alice").await;
    let link = api_link(&api, &customer).await;

    let mut first = Dashboard::new(&app);
    // Opening the link does not use it (mail scanners open links).
    assert!(first.get(&link).await.has_id("sign-in"));
    assert!(first.get(&link).await.has_id("sign-in"));
    sign_in(&mut first, &link).await;

    let mut second = Dashboard::new(&app);
    let page = second.get(&link).await;
    assert_eq!(page.status, 410, "{}", page.body);
    assert!(page.has_id("link-used"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("href=\"/portal/{}\"", api.merchant_id)),
        "offers a new link: {}",
        page.body
    );
    // Posting it anyway (with a token of another page) does not sign in.
    let csrf = second
        .get(&format!("/portal/{}", api.merchant_id))
        .await
        .csrf();
    let again = second.post_raw(&link, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, 410);
    assert!(!second.has_cookie("pushbill_portal"));
    assert_eq!(second.get("/portal").await.status, 401);
    assert_eq!(
        portal_sessions::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
    // An unknown or malformed token is a 404.
    assert_eq!(second.get("/portal/login/nonsense").await.status, 404);
    let forged = format!("/portal/login/{}", "A".repeat(43));
    assert_eq!(second.get(&forged).await.status, 404);
}

#[tokio::test]
async fn a_link_expires_after_fifteen_minutes_of_the_merchants_clock() {
    let app = app().await;
    let api = app.api().await;
    let (customer, _) = subscriber(&api, "alice@example.com", "Alice").await;
    let r = api
        .post(&format!("/v1/customers/{customer}/portal_links"), json!({}))
        .await;
    let made_at = api.test_clock().await;
    let expires: chrono::DateTime<chrono::Utc> =
        r.body["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires - made_at, chrono::Duration::minutes(15));
    let link = path_of(r.body["url"].as_str().unwrap());

    let mut web = Dashboard::new(&app);
    api.advance(15 * 60 - 1).await;
    assert!(web.get(&link).await.has_id("sign-in"), "usable at 14:59");
    api.advance(1).await;
    let page = web.get(&link).await;
    assert_eq!(page.status, 410);
    assert!(page.has_id("link-expired"), "{}", page.body);
    assert!(page.has_id("new-link"));
    // Posting it anyway (with the token of another page) does not sign in.
    let csrf = web
        .get(&format!("/portal/{}", api.merchant_id))
        .await
        .csrf();
    let used = web.post_raw(&link, &[("csrf", &csrf)]).await;
    assert_eq!(used.status, 410, "{}", used.body);
    assert!(!web.has_cookie("pushbill_portal"));

    // Another merchant's clock does not count: a link of this merchant made
    // now is usable however far the other merchant moves its own clock.
    let other = merchant_named(&app, "Other", "OTH").await;
    let fresh = api_link(&api, &customer).await;
    other.advance(86_400).await;
    sign_in(&mut web, &fresh).await;
}

#[tokio::test]
async fn another_merchants_customers_and_another_customers_objects_answer_404() {
    let app = app().await;
    let api = app.api().await;
    let (alice, alice_sub) = subscriber(&api, "alice@example.com", "Alice").await;
    let (_bob, bob_sub) = subscriber(&api, "bob@example.com", "Bob").await;
    let other = merchant_named(&app, "Other", "OTH").await;
    let (_carol, carol_sub) = subscriber(&other, "alice@example.com", "Carol").await;

    // The API makes links for the merchant's own customers only.
    let r = other
        .post(&format!("/v1/customers/{alice}/portal_links"), json!({}))
        .await;
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(
        api.post("/v1/customers/cus_nobody/portal_links", json!({}))
            .await
            .status,
        404
    );

    // Alice's address at the other merchant is Carol's: only Carol gets a link.
    let mut web = Dashboard::new(&app);
    let other_page = format!("/portal/{}", other.merchant_id);
    web.post(&other_page, &other_page, &[("email", "alice@example.com")])
        .await;
    let queued = portal_emails(&app).await;
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0].body_text.contains("Carol"),
        "{}",
        queued[0].body_text
    );
    assert_eq!(queued[0].merchant_id, other.merchant_id);

    // Signed in as Alice: Bob's (same merchant) and Carol's (other merchant)
    // subscriptions and invoices answer 404.
    sign_in(&mut web, &api_link(&api, &alice).await).await;
    let home = web.get("/portal").await;
    assert!(home.has_id(&alice_sub));
    assert!(!home.has_id(&bob_sub) && !home.has_id(&carol_sub));
    for sub in [&bob_sub, &carol_sub, &"sub_nobody".to_owned()] {
        let page = web
            .post(
                "/portal",
                &format!("/portal/subscriptions/{sub}/cancel"),
                &[],
            )
            .await;
        assert_eq!(page.status, 404, "{sub}: {}", page.body);
    }
    assert!(!app.subscription(&bob_sub).await.cancel_at_period_end);
    assert!(!app.subscription(&carol_sub).await.cancel_at_period_end);
    for sub in [&bob_sub, &carol_sub] {
        let invoice = &app.invoices_of(sub).await[0];
        let page = web
            .get(&format!("/portal/invoices/{}/pay", invoice.id))
            .await;
        assert_eq!(page.status, 404, "{}", page.body);
    }
    // Alice's own open invoice leads to its pay page.
    let own = &app.invoices_of(&alice_sub).await[0];
    assert!(home.has_id(&format!("pay-{}", own.id)), "{}", home.body);
    let pay = web.get(&format!("/portal/invoices/{}/pay", own.id)).await;
    assert_eq!(pay.status, 303);
    let to = pay.location.unwrap();
    assert!(to.starts_with("/pay/"), "{to}");
    let pay_page = web.get(&to).await;
    assert_eq!(pay_page.status, 200);
    assert!(pay_page.body.contains(&own.number), "{}", pay_page.body);
}

#[tokio::test]
async fn every_portal_form_needs_its_csrf_token() {
    let app = app().await;
    let api = app.api().await;
    let (customer, sub) = subscriber(&api, "alice@example.com", "Alice").await;
    let page_path = format!("/portal/{}", api.merchant_id);

    // Before sign-in: the link request and the sign-in button.
    let mut web = Dashboard::new(&app);
    web.get(&page_path).await;
    let request = web
        .post_raw(&page_path, &[("email", "alice@example.com")])
        .await;
    assert_eq!(request.status, 403, "{}", request.body);
    assert!(portal_emails(&app).await.is_empty());
    let link = api_link(&api, &customer).await;
    web.get(&link).await;
    assert_eq!(web.post_raw(&link, &[]).await.status, 403);
    assert_eq!(web.post_raw(&link, &[("csrf", "0000")]).await.status, 403);
    assert!(!web.has_cookie("pushbill_portal"));

    // The link was not spent by the refused posts.
    sign_in(&mut web, &link).await;
    let cancel = format!("/portal/subscriptions/{sub}/cancel");
    for (path, fields) in [
        (cancel.as_str(), vec![]),
        ("/portal/email", vec![("email", "eve@example.com")]),
        ("/portal/logout", vec![]),
    ] {
        let page = web.post_raw(path, &fields).await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        let mut forged = vec![("csrf", "0000")];
        forged.extend_from_slice(&fields);
        assert_eq!(web.post_raw(path, &forged).await.status, 403, "{path}");
    }
    assert!(!app.subscription(&sub).await.cancel_at_period_end);
    let c = api.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(c.body["email"], "alice@example.com");
    assert_eq!(web.get("/portal").await.status, 200, "still signed in");
}

#[tokio::test]
async fn cancel_at_period_end_takes_effect_as_through_the_api() {
    let app = app().await;
    let api = app.api().await;
    let (customer, sub) = subscriber(&api, "alice@example.com", "Alice").await;
    let mut web = Dashboard::new(&app);
    sign_in(&mut web, &api_link(&api, &customer).await).await;

    let done = web
        .post(
            "/portal",
            &format!("/portal/subscriptions/{sub}/cancel"),
            &[],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/portal?done=canceled"));
    let r = api.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(r.body["cancel_at_period_end"], true, "{r:?}");
    assert_eq!(r.body["status"], "active");
    let events = app.event_types(&sub).await;
    assert_eq!(
        events.last().map(String::as_str),
        Some("subscription.updated"),
        "{events:?}"
    );

    let home = web.get("/portal?done=canceled").await;
    assert!(home.has_id("notice"));
    assert!(home.has_id(&format!("ends-{sub}")), "{}", home.body);
    assert!(!home.has_id(&format!("cancel-{sub}")), "no second cancel");
    // Posting it again is refused, not repeated.
    let again = web
        .post_raw(
            &format!("/portal/subscriptions/{sub}/cancel"),
            &[("csrf", &home.csrf())],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(
        app.event_types(&sub)
            .await
            .iter()
            .filter(|e| *e == "subscription.updated")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_bad_email_gets_a_message_at_the_field_and_a_good_one_is_saved() {
    let app = app().await;
    let api = app.api().await;
    let (customer, _) = subscriber(&api, "alice@example.com", "Alice").await;
    let mut web = Dashboard::new(&app);
    sign_in(&mut web, &api_link(&api, &customer).await).await;

    let overlong = format!("{}@example.com", "a".repeat(300));
    for bad in [
        "alice\0@example.com",
        "\0",
        overlong.as_str(),
        "not an email",
        "alice@",
        "<script>@example.com",
        "",
    ] {
        let page = web
            .post("/portal", "/portal/email", &[("email", bad)])
            .await;
        assert_eq!(page.status, 400, "{bad:?}: {}", page.body);
        assert!(page.has_id("error-email"), "{bad:?}: {}", page.body);
        assert!(!page.body.contains('\0') && !page.body.contains("<script>@"));
        let c = api.get(&format!("/v1/customers/{customer}")).await;
        assert_eq!(c.body["email"], "alice@example.com", "{bad:?}");
    }
    // The same rule as the API's.
    let r = api
        .post(
            &format!("/v1/customers/{customer}"),
            json!({"email": "alice@"}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "email"));

    let ok = web
        .post(
            "/portal",
            "/portal/email",
            &[("email", "Alice@New.Example")],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let c = api.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(c.body["email"], "Alice@new.example");
    assert!(
        app.event_types(&customer)
            .await
            .contains(&"customer.updated".to_owned())
    );
    assert!(web.get("/portal?done=email").await.has_id("notice"));
}

#[tokio::test]
async fn names_are_shown_as_text() {
    let app = app().await;
    let api = merchant_named(&app, "<script>alert('m')</script>", "EVL").await;
    let r = api
        .post(
            "/v1/plans",
            json!({"name": "<img src=x onerror=alert(1)>", "amount_msat": 1_000_000, "interval": "month"}),
        )
        .await;
    let plan = r.id();
    let r = api
        .post(
            "/v1/customers",
            json!({"email": "alice@example.com", "name": "<script>alert(1)</script>\u{202e}evil"}),
        )
        .await;
    let customer = r.id();
    api.subscription(&customer, &plan).await;
    let mut web = Dashboard::new(&app);
    let request = web.get(&format!("/portal/{}", api.merchant_id)).await;
    assert!(!request.body.contains("<script>alert"), "{}", request.body);
    assert!(
        request.body.contains("&#60;script&#62;"),
        "{}",
        request.body
    );
    sign_in(&mut web, &api_link(&api, &customer).await).await;
    let home = web.get("/portal").await;
    assert_eq!(home.status, 200);
    for raw in ["<script>alert", "<img src=x", "\u{202e}"] {
        assert!(!home.body.contains(raw), "{raw:?} in {}", home.body);
    }
    assert!(
        home.body.contains("&#60;img src=x onerror=alert(1)&#62;"),
        "{}",
        home.body
    );
    assert!(
        home.body.contains("\u{fffd}evil"),
        "the override is neutralised"
    );
}

#[tokio::test]
async fn link_requests_are_throttled_per_email_and_per_client_address() {
    let app = app().await;
    let api = app.api().await;
    subscriber(&api, "alice@example.com", "Alice").await;
    let page_path = format!("/portal/{}", api.merchant_id);
    let mut web = Dashboard::new(&app);
    let ask = |email: &'static str| (page_path.clone(), email);

    // Five per address; the sixth is refused, for a customer's address and
    // for an unknown one alike.
    for email in ["alice@example.com", "nobody@example.com"] {
        for i in 0..5 {
            let (path, email) = ask(email);
            let page = web.post(&path, &path, &[("email", email)]).await;
            assert_eq!(page.status, 200, "{email} #{i}: {}", page.body);
        }
        let (path, email) = ask(email);
        let page = web.post(&path, &path, &[("email", email)]).await;
        assert_eq!(page.status, 429, "{email}: {}", page.body);
        assert!(page.has_id("throttled"));
        let wait: i64 = page
            .retry_after
            .as_deref()
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=3600).contains(&wait), "{wait}");
        assert!(page.has_id("sandbox"), "the error page says sandbox");
    }
    // Case does not get around it.
    let page = web
        .post(&page_path, &page_path, &[("email", "ALICE@example.com")])
        .await;
    assert_eq!(page.status, 429);
    assert_eq!(portal_emails(&app).await.len(), 5);

    // Thirty per client address, whatever the email: 10 counted above.
    for i in 0..20 {
        let email = format!("someone{i}@example.com");
        let page = web.post(&page_path, &page_path, &[("email", &email)]).await;
        assert_eq!(page.status, 200, "#{i}: {}", page.body);
    }
    let page = web
        .post(&page_path, &page_path, &[("email", "fresh@example.com")])
        .await;
    assert_eq!(page.status, 429, "{}", page.body);
}

#[tokio::test]
async fn the_api_answers_the_link_once_and_never_stores_it() {
    let app = app().await;
    let api = app.api().await;
    let (customer, _) = subscriber(&api, "alice@example.com", "Alice").await;
    let path = format!("/v1/customers/{customer}/portal_links");
    let r = api.post(&path, json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "portal_link");
    assert_eq!(r.body["customer"], customer);
    let url = r.body["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/portal/login/",
            app.context.settings.app.base_url
        )),
        "{url}"
    );
    let token = url.rsplit('/').next().unwrap();
    let stored = portal_links::Entity::find()
        .filter(portal_links::Column::TokenHash.eq(sha256(token)))
        .one(&app.db)
        .await
        .unwrap()
        .expect("stored by its hash");
    assert_eq!(stored.source, "api");
    // An Idempotency-Key would store the answer: refused.
    let keyed = api.post_with_key(&path, json!({}), "k1").await;
    assert_eq!(keyed.status, 400, "{keyed:?}");
    // Bad input is a 4xx naming the problem.
    assert_eq!(api.post(&path, json!({"customer": "x"})).await.status, 400);
    let nul = api
        .post("/v1/customers/cus_%00/portal_links", json!({}))
        .await;
    assert_eq!(nul.status, 400, "{nul:?}");
    // A deleted customer gets no link.
    let (gone, sub) = subscriber(&api, "gone@example.com", "Gone").await;
    api.post(&format!("/v1/subscriptions/{sub}/cancel"), json!({}))
        .await;
    assert_eq!(
        api.delete(&format!("/v1/customers/{gone}")).await.status,
        200
    );
    assert_eq!(
        api.post(&format!("/v1/customers/{gone}/portal_links"), json!({}))
            .await
            .status,
        404
    );
    // It is in the OpenAPI document.
    let doc = api.get("/v1/openapi.json").await;
    assert!(
        doc.body["paths"]["/v1/customers/{id}/portal_links"]["post"].is_object(),
        "documented"
    );
}

#[tokio::test]
async fn the_session_cookie_is_scoped_and_signing_out_ends_the_session() {
    let app = app().await;
    let api = app.api().await;
    let (customer, _) = subscriber(&api, "alice@example.com", "Alice").await;
    let link = api_link(&api, &customer).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}{link}", app.address))
        .send()
        .await
        .unwrap();
    let headers = page.headers().clone();
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    let csrf_cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(csrf_cookie.contains("Path=/portal"), "{csrf_cookie}");
    let body = page.text().await.unwrap();
    let token = crate::support::dashboard::csrf_in(&body).unwrap();
    let res = http
        .post(format!("{}{link}", app.address))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("pushbill_portal="), "{cookie}");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/portal", "Max-Age=3600"] {
        assert!(cookie.contains(part), "{part}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP base URL: {cookie}");
    let session_token = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("pushbill_portal=");
    let session = portal_sessions::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.token_hash, sha256(session_token));
    assert_eq!(session.customer_id, customer);
    assert_eq!(
        session.expires_at - session.created_at,
        chrono::Duration::hours(1)
    );

    // Signing out ends it server-side and lands on the merchant's page.
    let mut web = Dashboard::new(&app);
    sign_in(&mut web, &api_link(&api, &customer).await).await;
    assert_eq!(web.get("/portal").await.status, 200);
    let out = web.post("/portal", "/portal/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(
        out.location.as_deref(),
        Some(format!("/portal/{}", api.merchant_id).as_str())
    );
    assert!(!web.has_cookie("pushbill_portal"));
    assert_eq!(
        portal_sessions::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        1,
        "only the first browser's session is left"
    );
    let after = web.get("/portal").await;
    assert_eq!(after.status, 401);
    assert!(after.has_id("signed-out"));
}

#[tokio::test]
async fn over_https_the_portal_cookies_are_secure() {
    let app = crate::support::app::spawn_app_with(|s| {
        s.app.base_url = "https://billing.example".to_owned();
    })
    .await;
    let api = app.api().await;
    let (customer, _) = subscriber(&api, "alice@example.com", "Alice").await;
    let r = api
        .post(&format!("/v1/customers/{customer}/portal_links"), json!({}))
        .await;
    let url = r.body["url"].as_str().unwrap();
    assert!(
        url.starts_with("https://billing.example/portal/login/"),
        "{url}"
    );
    let link = path_of(url);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}{link}", app.address))
        .send()
        .await
        .unwrap();
    let csrf_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let token = crate::support::dashboard::csrf_in(&page.text().await.unwrap()).unwrap();
    let res = http
        .post(format!("{}{link}", app.address))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("pushbill_portal="), "{cookie}");
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_deleted_customer_is_signed_out_and_their_links_stop_working() {
    let app = app().await;
    let api = app.api().await;
    let (customer, sub) = subscriber(&api, "alice@example.com", "Alice").await;
    let mut web = Dashboard::new(&app);
    sign_in(&mut web, &api_link(&api, &customer).await).await;
    let unused = api_link(&api, &customer).await;
    assert_eq!(web.get("/portal").await.status, 200);
    api.post(&format!("/v1/subscriptions/{sub}/cancel"), json!({}))
        .await;
    assert_eq!(
        api.delete(&format!("/v1/customers/{customer}"))
            .await
            .status,
        200
    );
    assert_eq!(web.get("/portal").await.status, 401);
    let mut other = Dashboard::new(&app);
    let page = crate::support::portal::use_link(&mut other, &unused).await;
    assert_ne!(page.status, 303, "{}", page.body);
    assert!(!other.has_cookie("pushbill_portal"));
    // Nor does asking for a link by email send one.
    let path = format!("/portal/{}", api.merchant_id);
    other
        .post(&path, &path, &[("email", "alice@example.com")])
        .await;
    assert!(portal_emails(&app).await.is_empty());
}

#[tokio::test]
async fn the_dashboard_emails_a_customer_a_sign_in_link_it_never_shows() {
    use crate::support::dashboard::merchant_of;
    let app = app().await;
    let mut alice = Dashboard::new(&app);
    alice.sign_up("Alice Co", "owner@alice.example").await;
    let merchant = merchant_of(&app, "owner@alice.example").await;
    let customer = app.customer(&merchant).await;
    let page_path = format!("/dashboard/customers/{}", customer.id);
    let action = format!("{page_path}/portal_link");
    assert!(alice.get(&page_path).await.has_id("email-portal-link"));

    let sent = alice.post(&page_path, &action, &[]).await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let after = sent.location.expect("back to the customer's page");
    let page = alice.get(&after).await;
    assert!(page.has_id("notice"), "{}", page.body);
    let queued = portal_emails(&app).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(
        Some(queued[0].to_address.as_str()),
        customer.email.as_deref()
    );
    let link = link_in(&queued[0].body_text).expect("a link in the email");
    assert!(
        !page.body.contains(&link) && !sent.body.contains(&link),
        "the link is never shown to the merchant"
    );
    let stored = portal_links::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].source, "dashboard");
    // The emailed link signs the customer in.
    let mut customer_browser = Dashboard::new(&app);
    sign_in(&mut customer_browser, &link).await;
    assert_eq!(customer_browser.get("/portal").await.status, 200);

    // Another merchant's user cannot send one to Alice's customer, and the
    // form needs its CSRF token.
    let mut eve = Dashboard::new(&app);
    eve.sign_up("Eve Co", "owner@eve.example").await;
    assert_eq!(eve.post("/dashboard", &action, &[]).await.status, 404);
    assert_eq!(alice.post_raw(&action, &[]).await.status, 403);
    // A customer without an email has no button, and the POST is a 409.
    let no_email = catalog::customers::create(
        &app.db,
        app.now(),
        &merchant.id,
        catalog::customers::NewCustomer {
            name: Some("No Mail".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let path = format!("/dashboard/customers/{}", no_email.id);
    assert!(!alice.get(&path).await.has_id("email-portal-link"));
    let refused = alice.post(&path, &format!("{path}/portal_link"), &[]).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(portal_emails(&app).await.len(), 1);
}

/// "Connect a wallet" on a subscription: offered with the way it is paid
/// now; a URI that is not one, or whose wallet does not answer, is refused
/// (400) on a page that never shows it; another customer's subscription is
/// 404 and nothing changes. Connecting a real wallet and disconnecting it
/// is in tests/slow/lightning/nwc.rs.
#[tokio::test]
async fn connecting_a_wallet_is_offered_and_refusals_never_show_the_secret() {
    let app = app().await;
    let api = app.api().await;
    let (customer, sub) = subscriber(&api, "alice@example.com", "Alice").await;
    let (_, bobs) = subscriber(&api, "bob@example.com", "Bob").await;
    let mut web = Dashboard::new(&app);
    sign_in(&mut web, &api_link(&api, &customer).await).await;
    let home = web.get("/portal").await;
    assert!(home.has_id(&format!("connect-{sub}")), "{}", home.body);
    assert!(
        home.body.contains("By email and the pay page"),
        "{}",
        home.body
    );

    let secret = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";
    let unreachable = format!(
        "nostr+walletconnect://b889ff5b1513b641e2a139f661a661364979c5beee91842f8f0ef42ab558e9d4?relay=ws%3A%2F%2F127.0.0.1%3A9&secret={secret}"
    );
    for uri in [
        unreachable.clone(),
        format!("nostr+walletconnect://x?secret={secret}"),
    ] {
        let page = web
            .post(
                "/portal",
                &format!("/portal/subscriptions/{sub}/wallet"),
                &[("nwc_uri", &uri)],
            )
            .await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.body.contains("nwc_uri"), "{}", page.body);
        assert!(
            !page.body.contains(secret),
            "the secret came back: {}",
            page.body
        );
    }
    let theirs = web
        .post(
            "/portal",
            &format!("/portal/subscriptions/{bobs}/wallet"),
            &[("nwc_uri", &unreachable)],
        )
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    let theirs = web
        .post(
            "/portal",
            &format!("/portal/subscriptions/{bobs}/wallet/remove"),
            &[],
        )
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.body);
    for id in [&sub, &bobs] {
        let r = api
            .get(&format!("/v1/subscriptions/{id}/payment_method"))
            .await;
        assert_eq!(r.body["method"], "push", "{r:?}");
    }
}
