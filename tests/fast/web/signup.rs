//! The hosted signup pages over plain HTTP: the plan's page, 404s (unknown
//! link, archived plan, another merchant's objects), subscribe codes and
//! their cap, the pay-it-myself form (exactly one customer, subscription
//! and invoice; field errors; the existing-customer case), escaping,
//! throttles, and `signup_url` in the API.

use chrono::Duration;
use pushbill::domain::{Interval, Msat, Schedule};
use pushbill::store::{customers, invoices, plans, subscribe_codes, subscriptions};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::support::app::{TestApp, spawn_app, spawn_app_with};
use crate::support::dashboard::{Dashboard, Page};

const MERCHANT_NODE: &str = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";

fn link_of(plan: &plans::Model) -> String {
    format!("/s/{}", plan.signup_link)
}

async fn counts(app: &TestApp) -> (u64, u64, u64) {
    (
        customers::Entity::find().count(&app.db).await.unwrap(),
        subscriptions::Entity::find().count(&app.db).await.unwrap(),
        invoices::Entity::find().count(&app.db).await.unwrap(),
    )
}

/// Posts the pay-it-myself form from the plan's page.
async fn sign_up(web: &mut Dashboard, plan: &plans::Model, email: &str, name: &str) -> Page {
    let link = link_of(plan);
    web.post(
        &link,
        &format!("{link}/subscribe"),
        &[("email", email), ("name", name)],
    )
    .await
}

async fn status(app: &TestApp, path: &str) -> String {
    let res = app
        .http
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(res.headers()["cache-control"].to_str().unwrap(), "no-store");
    let body: serde_json::Value = res.json().await.unwrap();
    body["state"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_page_shows_the_plan_its_price_trial_and_both_ways() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let mut plan = pushbill::catalog::plans::NewPlan::new(
        "Premium",
        Msat::from_msat(21_000_500).unwrap(),
        Schedule::every(Interval::Month, 3).unwrap(),
    );
    plan.trial = Duration::days(7);
    let plan = app.plan(&merchant, plan).await;
    let res = app
        .http
        .get(format!("{}{}", app.address, link_of(&plan)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    assert!(body.contains("Bobflix"), "{body}");
    assert!(body.contains("Premium"), "{body}");
    // Exact from msat: 21,000,500 msat is 21000.5 sat.
    assert!(body.contains("21000.5 sat every 3 months"), "{body}");
    assert!(body.contains("7 days free"), "{body}");
    for id in [
        "auto-pay",
        "pay-myself",
        "code-form",
        "manual-form",
        "sandbox",
    ] {
        assert!(body.contains(&format!("id=\"{id}\"")), "{id} in {body}");
    }
    // Security headers; the page's address stays out of referrers and caches.
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    // No inline script or style: the script and the stylesheet are pushbill's.
    assert!(!body.contains("<script>"), "{body}");
    assert!(!body.contains("style="), "{body}");
    for asset in ["/static/js/signup.js", "/static/css/signup.css"] {
        assert!(body.contains(asset), "{asset}");
        let res = app
            .http
            .get(format!("{}{asset}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn unknown_links_archived_plans_and_other_merchants_objects_are_404() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let archived = app.monthly_plan(&merchant).await;
    pushbill::catalog::plans::archive(&app.db, app.now(), &merchant.id, &archived.id)
        .await
        .unwrap();
    let other = pushbill::catalog::merchants::create(&app.db, app.now(), "Eve", "EVE")
        .await
        .unwrap();
    let other_plan = app.monthly_plan(&other).await;
    assert_ne!(plan.signup_link, other_plan.signup_link);
    assert_eq!(plan.signup_link.len(), 26);

    let mut web = Dashboard::new(&app);
    assert_eq!(web.get(&link_of(&plan)).await.status, 200);
    let guessed = "a".repeat(26);
    for path in [
        format!("/s/{guessed}"),
        "/s/short".to_owned(),
        format!("/s/{}", plan.id),
        link_of(&archived),
        format!("{}/welcome", link_of(&archived)),
        format!("/s/{}", plan.signup_link.to_uppercase()),
        format!("/s/{}%00", &plan.signup_link),
    ] {
        let page = web.get(&path).await;
        assert!(
            [404, 400].contains(&page.status),
            "{path}: {} {}",
            page.status,
            page.body
        );
    }
    assert_eq!(web.get(&format!("/s/{guessed}")).await.status, 404);
    assert!(
        web.get(&link_of(&archived))
            .await
            .body
            .contains("no longer takes new subscriptions")
    );
    // The archived plan's page takes no signups either.
    let page = web.get(&link_of(&plan)).await;
    let csrf = page.csrf();
    let refused = web
        .post_raw(
            &format!("{}/subscribe", link_of(&archived)),
            &[("csrf", &csrf), ("email", "a@example.com")],
        )
        .await;
    assert_eq!(refused.status, 404);

    // Merchant A's signup invoice is not reachable under B's link.
    let signed = sign_up(&mut web, &plan, "alice@example.com", "").await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let to = signed.location.unwrap();
    let token = to.rsplit('/').next().unwrap();
    assert_eq!(web.get(&to).await.status, 200);
    assert_eq!(
        web.get(&format!("{}/invoices/{token}", link_of(&other_plan)))
            .await
            .status,
        404
    );
    // Nor under another plan of the same merchant, nor a made-up token.
    let second = app.monthly_plan(&merchant).await;
    assert_eq!(
        web.get(&format!("{}/invoices/{token}", link_of(&second)))
            .await
            .status,
        404
    );
    assert_eq!(
        web.get(&format!("{}/invoices/{}", link_of(&plan), "x".repeat(32)))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_code_is_made_on_demand_shown_with_its_command_and_qr_and_capped_per_plan() {
    let app = spawn_app_with(|s| s.signup.codes_per_plan_per_hour = 3).await;
    pushbill::store::node_identity::record(&app.db, app.now(), MERCHANT_NODE, "127.0.0.1:9735")
        .await
        .unwrap();
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let link = link_of(&plan);
    let mut web = Dashboard::new(&app);
    // Without the CSRF token: refused, nothing made.
    let refused = web.post_raw(&format!("{link}/codes"), &[]).await;
    assert_eq!(refused.status, 403);
    let page = web.get(&link).await;
    let forged = web
        .post_raw(&format!("{link}/codes"), &[("csrf", "forged")])
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(
        subscribe_codes::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );

    let csrf = page.csrf();
    let made = web
        .post_raw(&format!("{link}/codes"), &[("csrf", &csrf)])
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let to = made.location.unwrap();
    let code = to.rsplit('/').next().unwrap().to_owned();
    let row = subscribe_codes::Entity::find_by_id(&code)
        .one(&app.db)
        .await
        .unwrap()
        .expect("the code is stored");
    assert_eq!(row.plan_id.as_deref(), Some(plan.id.as_str()));
    assert_eq!(row.merchant_id, merchant.id);
    assert_eq!(
        row.expires_at,
        app.now() + Duration::hours(1),
        "short-lived"
    );

    let shown = web.get(&to).await;
    assert_eq!(shown.status, 200);
    let full = format!("{code}@{MERCHANT_NODE}@127.0.0.1:9735");
    assert!(
        shown
            .body
            .contains(&format!("pushbill payer subscribe {full}")),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("<svg"), "the QR code");
    assert!(shown.has_id("copy-command"));
    assert!(
        shown
            .body
            .contains(&format!("data-status-url=\"{to}/status\"")),
        "{}",
        shown.body
    );
    assert_eq!(status(&app, &format!("{to}/status")).await, "waiting");

    // Another plan's page does not show this code.
    let second = app.monthly_plan(&merchant).await;
    assert_eq!(
        web.get(&format!("{}/codes/{code}", link_of(&second)))
            .await
            .status,
        404
    );
    assert_eq!(
        web.get(&format!("{link}/codes/{}", "b".repeat(26)))
            .await
            .status,
        404
    );

    // Past the cap (3 per plan per hour) the page answers 429 and makes none.
    for _ in 0..2 {
        let made = web
            .post_raw(&format!("{link}/codes"), &[("csrf", &csrf)])
            .await;
        assert_eq!(made.status, 303);
    }
    for _ in 0..3 {
        let capped = web
            .post_raw(&format!("{link}/codes"), &[("csrf", &csrf)])
            .await;
        assert_eq!(capped.status, 429, "{}", capped.body);
        assert!(capped.body.contains("Too many"), "{}", capped.body);
    }
    assert_eq!(
        subscribe_codes::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        3
    );
    // The cap is the plan's: another plan's page still makes codes.
    let other = web
        .post_raw(&format!("{}/codes", link_of(&second)), &[("csrf", &csrf)])
        .await;
    assert_eq!(other.status, 303);

    // The code expires with the hour.
    app.set_time(app.now() + Duration::minutes(61)).await;
    assert_eq!(status(&app, &format!("{to}/status")).await, "expired");
}

#[tokio::test]
async fn paying_myself_creates_one_customer_subscription_and_invoice_then_confirms() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let mut web = Dashboard::new(&app);
    // Without the token: refused.
    let refused = web
        .post_raw(
            &format!("{}/subscribe", link_of(&plan)),
            &[("email", "carol@example.com")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(counts(&app).await, (0, 0, 0));

    let signed = sign_up(&mut web, &plan, "Carol@Example.com", "Carol").await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(counts(&app).await, (1, 1, 1));
    let customer = customers::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(customer.email.as_deref(), Some("Carol@example.com"));
    assert_eq!(customer.name.as_deref(), Some("Carol"));
    assert_eq!(customer.node_id, None, "no node: invoices go by email");
    assert_eq!(customer.merchant_id, merchant.id);
    let sub = subscriptions::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.plan_id, plan.id);
    assert_eq!(sub.customer_id, customer.id);
    let invoice = invoices::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(invoice.amount_msat, plan.amount_msat);
    assert_eq!(invoice.status, "open");

    let to = signed.location.unwrap();
    assert!(
        to.starts_with(&format!("{}/invoices/", link_of(&plan))),
        "{to}"
    );
    let page = web.get(&to).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Preparing"), "{}", page.body);
    assert_eq!(status(&app, &format!("{to}/status")).await, "preparing");

    // The node issues the BOLT11: the page shows it with its QR code.
    assert_eq!(app.issue_pending(Duration::hours(1)).await, 1);
    assert_eq!(status(&app, &format!("{to}/status")).await, "payable");
    let page = web.get(&to).await;
    let request = app
        .payment_requests_of(&invoice.id)
        .await
        .into_iter()
        .find(|r| r.status == "issued")
        .unwrap();
    let bolt11 = request.bolt11.clone().unwrap();
    assert!(page.body.contains(&bolt11), "{}", page.body);
    assert!(page.body.contains("<svg"), "the QR code");
    assert!(page.body.contains("10000 sat"), "{}", page.body);

    // Paid: the status says so and the page is the confirmation.
    app.pay(&invoice.id).await;
    assert_eq!(status(&app, &format!("{to}/status")).await, "paid");
    let page = web.get(&to).await;
    assert!(page.has_id("confirmation"), "{}", page.body);
    assert!(!page.body.contains("data-status-url"), "polling stops");
    assert_eq!(app.subscription(&sub.id).await.status, "active");
    assert_eq!(counts(&app).await, (1, 1, 1));
}

#[tokio::test]
async fn a_trial_plan_signs_up_without_an_invoice_and_welcomes() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.trial_plan(&merchant).await;
    let mut web = Dashboard::new(&app);
    let signed = sign_up(&mut web, &plan, "dave@example.com", "").await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(
        signed.location.as_deref(),
        Some(format!("{}/welcome", link_of(&plan)).as_str())
    );
    assert_eq!(counts(&app).await, (1, 1, 0));
    let sub = subscriptions::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sub.status, "trialing");
    let page = web.get(signed.location.as_deref().unwrap()).await;
    assert!(page.has_id("confirmation"), "{}", page.body);
}

#[tokio::test]
async fn an_existing_customers_email_neither_reveals_nor_touches_their_account() {
    let app = spawn_app().await;
    let api = app.api().await;
    let merchant = pushbill::store::merchants::Entity::find_by_id(&api.merchant_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let plan = app.monthly_plan(&merchant).await;
    let existing = api
        .post(
            "/v1/customers",
            json!({"email": "erin@example.com", "name": "Erin"}),
        )
        .await;
    assert_eq!(existing.status, 200);
    let mut web = Dashboard::new(&app);
    let known = sign_up(&mut web, &plan, "erin@example.com", "Mallory").await;
    let unknown = sign_up(&mut web, &plan, "frank@example.com", "Mallory").await;
    // The same answer for a known and an unknown email.
    assert_eq!(known.status, 303);
    assert_eq!(unknown.status, 303);
    assert_eq!(known.body, unknown.body);
    // A new customer each time; the existing one is untouched and has no
    // subscription.
    assert_eq!(counts(&app).await, (3, 2, 2));
    let erin = api.get(&format!("/v1/customers/{}", existing.id())).await;
    assert_eq!(erin.body["name"], "Erin");
    assert_eq!(erin.body["email"], "erin@example.com");
    let subs = api
        .get(&format!("/v1/subscriptions?customer={}", existing.id()))
        .await;
    assert_eq!(subs.body["data"].as_array().unwrap().len(), 0);
    // The page never shows the existing customer's details.
    let page = web.get(known.location.as_deref().unwrap()).await;
    assert!(!page.body.contains("Erin"), "{}", page.body);
}

#[tokio::test]
async fn bad_fields_get_a_message_at_the_field_and_create_nothing() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let mut web = Dashboard::new(&app);
    let long_name = "n".repeat(201);
    let long_email = format!("{}@example.com", "e".repeat(300));
    for (email, name, field) in [
        ("", "", "email"),
        ("not-an-email", "", "email"),
        ("a@b@example.com", "", "email"),
        ("nul\0@example.com", "", "email"),
        (long_email.as_str(), "", "email"),
        ("ok@example.com", "with\0nul", "name"),
        ("ok@example.com", long_name.as_str(), "name"),
        ("ok@example.com", "bell\u{7}", "name"),
        ("ok@example.com\u{202e}", "", "email"),
    ] {
        let page = sign_up(&mut web, &plan, email, name).await;
        assert_eq!(page.status, 400, "{email:?} {name:?}: {}", page.body);
        assert!(
            page.has_id(&format!("error-{field}")),
            "{email:?} {name:?}: {}",
            page.body
        );
        assert!(page.has_id("manual-form"), "the form is shown again");
    }
    // A body far over the form limit: a 4xx, never a 500.
    let csrf = web.get(&link_of(&plan)).await.csrf();
    let huge = "x".repeat(1_000_000);
    let page = web
        .post_raw(
            &format!("{}/subscribe", link_of(&plan)),
            &[
                ("csrf", &csrf),
                ("email", "ok@example.com"),
                ("name", &huge),
            ],
        )
        .await;
    assert!(
        (400..500).contains(&page.status),
        "{}: {}",
        page.status,
        page.body
    );
    // Odd Unicode that is fine is kept as typed.
    let page = sign_up(&mut web, &plan, "zoe@example.com", "Zoë 🦀 ☃").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(counts(&app).await, (1, 1, 1));
}

#[tokio::test]
async fn merchant_and_plan_names_are_escaped_and_bidi_overrides_neutralised() {
    let app = spawn_app().await;
    let merchant = pushbill::catalog::merchants::create(
        &app.db,
        app.now(),
        "<script>alert('m')</script>",
        "XSS",
    )
    .await
    .unwrap();
    let plan = app
        .plan(
            &merchant,
            pushbill::catalog::plans::NewPlan::new(
                "<script>alert(1)</script> gold\u{202e}dlog",
                Msat::from_sat(1_000).unwrap(),
                Schedule::every(Interval::Month, 1).unwrap(),
            ),
        )
        .await;
    let mut web = Dashboard::new(&app);
    let page = web.get(&link_of(&plan)).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(
        page.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("&#60;script&#62;alert(&#39;m&#39;)"),
        "{}",
        page.body
    );
    assert!(!page.body.contains('\u{202e}'), "{}", page.body);
    assert!(page.body.contains("gold\u{fffd}dlog"), "{}", page.body);
    // A name typed into the form is escaped when the form comes back.
    let back = sign_up(&mut web, &plan, "bad", "<img src=x onerror=alert(1)>").await;
    assert_eq!(back.status, 400);
    assert!(!back.body.contains("<img src=x"), "{}", back.body);
}

#[tokio::test]
async fn signups_are_throttled_per_plan_and_per_address() {
    let app = spawn_app_with(|s| {
        s.signup.signups_per_plan_per_hour = 2;
        s.signup.per_address_per_hour = 3;
    })
    .await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let other = app.monthly_plan(&merchant).await;
    let mut web = Dashboard::new(&app);
    for i in 0..2 {
        let page = sign_up(&mut web, &plan, &format!("u{i}@example.com"), "").await;
        assert_eq!(page.status, 303, "{}", page.body);
    }
    let page = sign_up(&mut web, &plan, "u2@example.com", "").await;
    assert_eq!(page.status, 429, "per plan: {}", page.body);
    assert_eq!(counts(&app).await.0, 2);
    // Another plan: the plan's limit is its own, but the address has used 3.
    let page = sign_up(&mut web, &other, "u3@example.com", "").await;
    assert_eq!(page.status, 429, "per address: {}", page.body);
    assert_eq!(counts(&app).await, (2, 2, 2));
    // A bad field is not counted and still answered at the field.
    let page = sign_up(&mut web, &other, "bad", "").await;
    assert_eq!(page.status, 400);
    // An hour later (wall clock) both windows end; nothing to test without
    // waiting one, so the Retry-After says how long.
    let res = app
        .http
        .post(format!("{}{}/subscribe", app.address, link_of(&other)))
        .header(
            "cookie",
            format!("pushbill_signup_csrf={}", "seed".repeat(8)),
        )
        .form(&[
            (
                "csrf",
                pushbill::auth::sessions::csrf_token(&"seed".repeat(8)).as_str(),
            ),
            ("email", "u4@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
}

#[tokio::test]
async fn the_api_and_the_dashboard_show_the_signup_link() {
    let app = spawn_app().await;
    let api = app.api().await;
    let created = api
        .post(
            "/v1/plans",
            json!({"name": "Gold", "amount_msat": 5_000_000, "interval": "month"}),
        )
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let url = created.body["signup_url"].as_str().unwrap().to_owned();
    let base = app.context.settings.app.base_url.trim_end_matches('/');
    let plan = plans::Entity::find_by_id(created.id())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(url, format!("{base}/s/{}", plan.signup_link));
    let fetched = api.get(&format!("/v1/plans/{}", plan.id)).await;
    assert_eq!(fetched.body["signup_url"], url.as_str());
    let listed = api.get("/v1/plans").await;
    assert_eq!(listed.body["data"][0]["signup_url"], url.as_str());
    // The link leads to the page.
    let page = app
        .http
        .get(format!("{}/s/{}", app.address, plan.signup_link))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // The OpenAPI document describes the field.
    let doc = api.get("/v1/openapi.json").await;
    assert!(
        doc.body["components"]["schemas"]["Plan"]["properties"]["signup_url"].is_object(),
        "{}",
        doc.body["components"]["schemas"]["Plan"]
    );

    // The dashboard's plan page shows it with a copy button and a QR code.
    let mut web = Dashboard::new(&app);
    web.sign_up("Shop", "owner@example.com").await;
    let owner = crate::support::dashboard::merchant_of(&app, "owner@example.com").await;
    let mine = app.monthly_plan(&owner).await;
    let page = web.get(&format!("/dashboard/plans/{}", mine.id)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(&format!("{base}/s/{}", mine.signup_link)),
        "{}",
        page.body
    );
    assert!(page.has_id("copy-signup-url"));
    assert!(page.has_id("signup-qr"));
    assert!(page.body.contains("<svg"));
}

#[tokio::test]
async fn plans_made_before_the_migration_get_a_link_of_their_own() {
    use migration::{Migrator, MigratorTrait};
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    for _ in 0..3 {
        app.monthly_plan(&merchant).await;
    }
    // Back to before migration 32 (its column gone, with every later one),
    // then up again.
    let all = Migrator::migrations();
    let at = all
        .iter()
        .position(|m| m.name().contains("000032"))
        .unwrap();
    Migrator::down(&app.db, Some((all.len() - at) as u32))
        .await
        .unwrap();
    let pending = Migrator::get_pending_migrations(&app.db).await.unwrap();
    assert_eq!(pending.len(), all.len() - at);
    assert!(
        pending[0].name().contains("000032"),
        "{}",
        pending[0].name()
    );
    Migrator::up(&app.db, None).await.unwrap();
    let all = plans::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(all.len(), 3);
    let mut links: Vec<&str> = all.iter().map(|p| p.signup_link.as_str()).collect();
    for link in &links {
        assert!(pushbill::store::plans::is_signup_link(link), "{link}");
    }
    links.sort();
    links.dedup();
    assert_eq!(links.len(), 3, "each plan its own link");
    let mut web = Dashboard::new(&app);
    for plan in &all {
        let page = web.get(&link_of(plan)).await;
        assert_eq!(page.status, 200);
    }
}

#[tokio::test]
async fn a_code_before_the_node_has_started_is_a_clear_503_not_a_500() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let mut web = Dashboard::new(&app);
    let link = link_of(&plan);
    let page = web.post(&link, &format!("{link}/codes"), &[]).await;
    assert_eq!(page.status, 503, "{}", page.body);
    assert!(page.body.contains("has not started yet"), "{}", page.body);
    assert_eq!(
        subscribe_codes::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}

/// The fiat value beside the sat price, where the merchant set a rate on
/// the dashboard (catalog::fiat): exact and rounded half up, with the rate
/// and its date; bad rates at the field and nothing changed; another
/// merchant's pages unaffected; cleared, sat alone again.
#[tokio::test]
async fn the_page_shows_the_fiat_value_at_the_rate_the_merchant_set() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = crate::support::dashboard::merchant_of(&app, "bob@example.com").await;
    let monthly = || {
        pushbill::catalog::plans::NewPlan::new(
            "Monthly",
            Msat::from_sat(21_000).unwrap(),
            Schedule::every(Interval::Month, 1).unwrap(),
        )
    };
    let plan = app.plan(&merchant, monthly()).await;
    let other = app.merchant().await;
    let others_plan = app.plan(&other, monthly()).await;
    let mut visitor = Dashboard::new(&app);
    let page = visitor.get(&link_of(&plan)).await;
    assert_eq!(page.status, 200);
    assert!(!page.has_id("plan-fiat"), "no rate, sat alone");

    let path = "/dashboard/settings/fiat";
    let form = [("currency", "USD"), ("per_btc", "97,500.00")];
    assert_eq!(web.post_raw(path, &form).await.status, 403, "no CSRF token");
    let saved = web.post(path, path, &form).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.has_id("saved"));
    assert!(
        saved.body.contains("1 BTC = 97,500.00 USD, set "),
        "{}",
        saved.body
    );
    let today = app.now().format("%Y-%m-%d").to_string();
    let page = visitor.get(&link_of(&plan)).await;
    // 21,000 sat at 97,500 USD per bitcoin is 20.475 USD: 20.48.
    assert!(
        page.body.contains(&format!(
            "about 20.48 USD (1 BTC = 97,500.00 USD on {today})"
        )),
        "{}",
        page.body
    );
    assert!(page.body.contains("21000 sat every month"));
    let page = visitor.get(&link_of(&others_plan)).await;
    assert!(
        !page.has_id("plan-fiat"),
        "another merchant's rate is its own"
    );

    for (field, value) in [
        ("currency", "XXX"),
        ("currency", ""),
        ("currency", "usd"),
        ("currency", "US\0"),
        ("per_btc", "abc"),
        ("per_btc", ""),
        ("per_btc", "1.234"),
        ("per_btc", "0"),
        ("per_btc", "-100"),
        ("per_btc", "99999999999999999999"),
        ("per_btc", "1\u{202e}5"),
        ("per_btc", "١٠٠"),
        ("per_btc", "97500\0"),
    ] {
        let mut bad = vec![("currency", "USD"), ("per_btc", "100000")];
        bad.retain(|(k, _)| *k != field);
        bad.push((field, value));
        let page = web.post(path, path, &bad).await;
        assert_eq!(page.status, 400, "{field}={value:?}");
        assert!(
            page.has_id(&format!("error-{field}"))
                || page
                    .body
                    .contains(&format!("{field}: must not contain the NUL")),
            "{field}={value:?}: {}",
            page.body
        );
    }
    let page = visitor.get(&link_of(&plan)).await;
    assert!(page.body.contains("about 20.48 USD"), "nothing changed");

    // Yen have no minor unit.
    web.post(path, path, &[("currency", "JPY"), ("per_btc", "15000000")])
        .await;
    let page = visitor.get(&link_of(&plan)).await;
    assert!(
        page.body
            .contains("about 3,150 JPY (1 BTC = 15,000,000 JPY"),
        "{}",
        page.body
    );

    let cleared = web.post(path, path, &[("clear", "1")]).await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert!(cleared.body.contains("show sat alone"));
    let page = visitor.get(&link_of(&plan)).await;
    assert!(!page.has_id("plan-fiat"));
}

/// /v1/settings/fiat sets the same rate as the dashboard's page, and the
/// signup page shows it; `{"currency": null}` clears it.
#[tokio::test]
async fn the_api_sets_and_clears_the_fiat_rate() {
    let app = spawn_app().await;
    let api = app.api().await;
    let merchant = pushbill::store::merchants::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let plan = app
        .plan(
            &merchant,
            pushbill::catalog::plans::NewPlan::new(
                "Monthly",
                Msat::from_sat(1_000).unwrap(),
                Schedule::every(Interval::Month, 1).unwrap(),
            ),
        )
        .await;
    let r = api.get("/v1/settings/fiat").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["currency"], serde_json::Value::Null);
    let r = api
        .post(
            "/v1/settings/fiat",
            json!({"currency": "EUR", "per_btc": "90000.5"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["currency"], "EUR");
    assert_eq!(r.body["minor_per_btc"], 9_000_050);
    assert_eq!(api.get("/v1/settings/fiat").await.body, r.body);
    let mut visitor = Dashboard::new(&app);
    let page = visitor.get(&link_of(&plan)).await;
    // 1,000 sat at 90,000.50 EUR is 0.900005 EUR: 0.90.
    assert!(
        page.body
            .contains("about 0.90 EUR (1 BTC = 90,000.50 EUR on "),
        "{}",
        page.body
    );
    let r = api
        .post("/v1/settings/fiat", json!({"per_btc": "90000"}))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["param"].as_str()),
        (400, Some("currency"))
    );
    let r = api
        .post("/v1/settings/fiat", json!({"currency": "EUR"}))
        .await;
    assert_eq!(
        (r.status, r.body["error"]["param"].as_str()),
        (400, Some("per_btc"))
    );
    let r = api
        .post("/v1/settings/fiat", json!({"currency": null}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["minor_per_btc"], serde_json::Value::Null);
    let page = visitor.get(&link_of(&plan)).await;
    assert!(!page.has_id("plan-fiat"));
}

/// "Auto-pay from my wallet": every refusal is at its field, creates
/// nothing, and never shows the URI (or its secret) again. A wallet that
/// answers and pays is tested with a real relay and payer in
/// tests/slow/lightning/nwc.rs.
#[tokio::test]
async fn the_wallet_form_refuses_at_the_field_creates_nothing_and_never_shows_the_secret() {
    let app = spawn_app_with(|s| s.nwc.connect_timeout_secs = 2).await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let mut web = Dashboard::new(&app);
    let link = link_of(&plan);
    let page = web.get(&link).await;
    assert!(page.body.contains(r#"id="wallet-form""#), "{}", page.body);
    let secret = "5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7";
    let unreachable = format!(
        "nostr+walletconnect://b889ff5b1513b641e2a139f661a661364979c5beee91842f8f0ef42ab558e9d4?relay=ws%3A%2F%2F127.0.0.1%3A9&secret={secret}"
    );
    let not_a_uri = format!("https://wallet.example/?secret={secret}");
    for (email, uri, field) in [
        ("carol@example.com", unreachable.as_str(), "nwc_uri"),
        ("carol@example.com", not_a_uri.as_str(), "nwc_uri"),
        ("carol@example.com", "", "nwc_uri"),
        ("not an email", unreachable.as_str(), "wallet-email"),
    ] {
        let page = web
            .post(
                &link,
                &format!("{link}/subscribe_wallet"),
                &[("email", email), ("name", "Carol"), ("nwc_uri", uri)],
            )
            .await;
        assert_eq!(page.status, 400, "{uri}: {}", page.body);
        assert!(
            page.body.contains(&format!(r#"id="error-{field}""#)),
            "{field}: {}",
            page.body
        );
        assert!(
            !page.body.contains(secret),
            "the secret came back: {}",
            page.body
        );
        assert!(!page.body.contains("walletconnect://b889"), "{}", page.body);
        assert_eq!(counts(&app).await, (0, 0, 0), "{uri}");
    }
    let refused = web
        .post_raw(
            &format!("{link}/subscribe_wallet"),
            &[("email", "carol@example.com"), ("nwc_uri", &unreachable)],
        )
        .await;
    assert_eq!(refused.status, 403, "no CSRF token");
}
