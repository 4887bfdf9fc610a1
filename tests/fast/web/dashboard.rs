//! The merchant dashboard over plain HTTP: sign-in required, CSRF refused
//! without its token, throttled sign-ins, another merchant's objects 404,
//! bad input answered 4xx at the field, invitations, the overview.

use pushbill::store::{dashboard_sessions, merchant_users, plans};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::app::{spawn_app, spawn_app_with, t0};
use crate::support::dashboard::{Dashboard, PASSWORD, merchant_of};
use pushbill::notify::email::render::when;

#[tokio::test]
async fn pages_need_a_session_and_sign_up_starts_one() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    for path in [
        "/dashboard",
        "/dashboard/plans",
        "/dashboard/subscriptions",
        "/dashboard/team",
    ] {
        let page = web.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/dashboard/login"), "{path}");
    }
    web.sign_up("Bobflix", "bob@example.com").await;
    assert!(web.has_cookie("pushbill_session"));
    let overview = web.get("/dashboard").await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("Bobflix"), "{}", overview.body);
    assert!(overview.has_id("sandbox"), "the sandbox is labelled");

    // The password is stored as an argon2id hash; the session as a hash.
    let user = merchant_users::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        user.password_hash
    );
    assert_eq!(user.role, "owner");
    let session = dashboard_sessions::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.token_hash.len(), 64);

    // Signing out ends the session server-side.
    let out = web.post("/dashboard", "/dashboard/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert!(!web.has_cookie("pushbill_session"));
    assert_eq!(
        dashboard_sessions::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    assert_eq!(web.get("/dashboard").await.status, 303);
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http
        .get(format!("{}/dashboard/signup", app.address))
        .send()
        .await
        .unwrap();
    let csrf_cookie = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body = form.text().await.unwrap();
    let token = crate::support::dashboard::csrf_in(&body).unwrap();
    let res = http
        .post(format!("{}/dashboard/signup", app.address))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[
            ("csrf", token.as_str()),
            ("business_name", "Bobflix"),
            ("email", "bob@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("pushbill_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP base URL: {cookie}");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let fields = [
        ("name", "Monthly"),
        ("amount_sat", "1000"),
        ("interval", "month"),
        ("interval_count", "1"),
    ];
    let missing = web.post_raw("/dashboard/plans", &fields).await;
    assert_eq!(missing.status, 403, "{}", missing.body);
    let mut forged = vec![("csrf", "0000")];
    forged.extend_from_slice(&fields);
    assert_eq!(web.post_raw("/dashboard/plans", &forged).await.status, 403);
    assert_eq!(plans::Entity::find().count(&app.db).await.unwrap(), 0);
    // Sign-up and sign-in forms are guarded too.
    let mut anonymous = Dashboard::new(&app);
    let login = anonymous
        .post_raw(
            "/dashboard/login",
            &[("email", "bob@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(login.status, 403);
    // With the page's token it works.
    let ok = web
        .post("/dashboard/plans/new", "/dashboard/plans", &fields)
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(plans::Entity::find().count(&app.db).await.unwrap(), 1);
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_then_throttled() {
    let app = spawn_app_with(|s| s.dashboard.login_failures_per_account = 3).await;
    let mut owner = Dashboard::new(&app);
    owner.sign_up("Bobflix", "bob@example.com").await;

    let mut web = Dashboard::new(&app);
    for _ in 0..3 {
        let page = web.sign_in("bob@example.com", "not the password").await;
        assert_eq!(page.status, 401, "{}", page.body);
        assert!(page.has_id("error-password"));
        assert!(!web.has_cookie("pushbill_session"));
    }
    // The 4th try is throttled, even with the right password.
    let page = web.sign_in("BOB@example.com", PASSWORD).await;
    assert_eq!(page.status, 429, "{}", page.body);
    assert!(page.body.contains("Too many failed sign-ins"));
    assert!(!web.has_cookie("pushbill_session"));
    // Another account from the same address is not (its limit is higher).
    let other = web.sign_in("nobody@example.com", "whatever").await;
    assert_eq!(other.status, 401);
}

#[tokio::test]
async fn sign_in_with_the_right_password_works_and_an_unknown_email_is_refused_alike() {
    let app = spawn_app().await;
    Dashboard::new(&app)
        .sign_up("Bobflix", "bob@example.com")
        .await;
    let mut web = Dashboard::new(&app);
    let unknown = web.sign_in("eve@example.com", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    let ok = web.sign_in("Bob@Example.com", PASSWORD).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(web.get("/dashboard").await.status, 200);
}

#[tokio::test]
async fn another_merchants_objects_answer_404() {
    let app = spawn_app().await;
    let mut alice = Dashboard::new(&app);
    alice.sign_up("Alice Co", "alice@example.com").await;
    let mut eve = Dashboard::new(&app);
    eve.sign_up("Eve Co", "eve@example.com").await;

    let merchant = merchant_of(&app, "alice@example.com").await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);

    for path in [
        format!("/dashboard/plans/{}", plan.id),
        format!("/dashboard/customers/{}", customer.id),
        format!("/dashboard/subscriptions/{}", sub.id),
        format!("/dashboard/invoices/{}", invoice.id),
    ] {
        assert_eq!(alice.get(&path).await.status, 200, "{path}");
        assert_eq!(eve.get(&path).await.status, 404, "{path}");
    }
    for (path, fields) in [
        (
            format!("/dashboard/subscriptions/{}/cancel", sub.id),
            vec![("when", "now")],
        ),
        (format!("/dashboard/subscriptions/{}/pause", sub.id), vec![]),
        (format!("/dashboard/invoices/{}/void", invoice.id), vec![]),
        (format!("/dashboard/plans/{}/archive", plan.id), vec![]),
        (
            format!("/dashboard/plans/{}", plan.id),
            vec![("name", "Mine now")],
        ),
    ] {
        let page = eve.post("/dashboard", &path, &fields).await;
        assert_eq!(page.status, 404, "{path}: {}", page.body);
    }
    assert_eq!(app.subscription(&sub.id).await.status, "active");
    assert_eq!(app.invoice(&invoice.id).await.status, "open");
    let plan_now = plans::Entity::find_by_id(&plan.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (plan_now.status.as_str(), plan_now.name.as_str()),
        ("active", "Monthly")
    );
    // Lists show only one's own.
    assert!(
        !eve.get("/dashboard/subscriptions")
            .await
            .body
            .contains(&sub.id)
    );
    assert!(
        alice
            .get("/dashboard/subscriptions")
            .await
            .body
            .contains(&sub.id)
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_at_the_field() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    let short = web
        .post(
            "/dashboard/signup",
            "/dashboard/signup",
            &[
                ("business_name", "Bobflix"),
                ("email", "bob@example.com"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(short.has_id("error-password"), "{}", short.body);
    let bad_email = web
        .post(
            "/dashboard/signup",
            "/dashboard/signup",
            &[
                ("business_name", "Bobflix"),
                ("email", "not-an-email"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(bad_email.status, 400);
    assert!(bad_email.has_id("error-email"));
    web.sign_up("Bobflix", "bob@example.com").await;
    let again = Dashboard::new(&app)
        .post(
            "/dashboard/signup",
            "/dashboard/signup",
            &[
                ("business_name", "Other"),
                ("email", "bob@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(again.status, 400);
    assert!(again.has_id("error-email"));

    let plan =
        |amount: &'static str, interval: &'static str, count: &'static str, cron: &'static str| {
            vec![
                ("name", "Monthly"),
                ("amount_sat", amount),
                ("interval", interval),
                ("interval_count", count),
                ("cron_expression", cron),
            ]
        };
    for (fields, field) in [
        (plan("ten", "month", "1", ""), "amount_sat"),
        (plan("1.2345", "month", "1", ""), "amount_sat"),
        (plan("-5", "month", "1", ""), "amount_sat"),
        (plan("1000", "fortnight", "1", ""), "interval"),
        (plan("1000", "month", "x", ""), "interval_count"),
        (plan("1000", "month", "0", ""), "interval_count"),
        (plan("1000", "cron", "", ""), "cron_expression"),
        (plan("1000", "cron", "", "not cron"), "cron_expression"),
        (
            vec![("name", ""), ("amount_sat", "1000"), ("interval", "month")],
            "name",
        ),
    ] {
        let page = web
            .post("/dashboard/plans/new", "/dashboard/plans", &fields)
            .await;
        assert_eq!(page.status, 400, "{fields:?}: {}", page.body);
        assert!(
            page.has_id(&format!("error-{field}")),
            "{fields:?}: {}",
            page.body
        );
    }
    assert_eq!(plans::Entity::find().count(&app.db).await.unwrap(), 0);

    // A NUL character anywhere is refused before any query.
    let nul = web
        .post(
            "/dashboard/plans/new",
            "/dashboard/plans",
            &[("name", "a\0b"), ("amount_sat", "1")],
        )
        .await;
    assert_eq!(nul.status, 400);
    assert_eq!(web.get("/dashboard/plans/plan_%00").await.status, 400);
    assert_eq!(web.get("/dashboard/customers?q=%00").await.status, 400);
    // Unknown ids, bad cursors and statuses.
    assert_eq!(web.get("/dashboard/plans/plan_nope").await.status, 404);
    assert_eq!(
        web.get("/dashboard/subscriptions?status=sleeping")
            .await
            .status,
        400
    );
    assert_eq!(web.get("/dashboard/invoices?status=lost").await.status, 400);
    assert_eq!(web.get("/dashboard/plans?after=cus_1").await.status, 400);
    assert_eq!(web.get("/dashboard/customers?q=%25_%5C").await.status, 200);

    // An edit that breaks a rule is shown at its field; the plan is unchanged.
    let created = web
        .post(
            "/dashboard/plans/new",
            "/dashboard/plans",
            &[
                ("name", "Monthly"),
                ("amount_sat", "10000.5"),
                ("interval", "month"),
                ("interval_count", "1"),
            ],
        )
        .await;
    assert_eq!(created.status, 303);
    let plan_page = created.location.unwrap();
    let plan_id = plan_page
        .split('/')
        .next_back()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let stored = plans::Entity::find_by_id(&plan_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.amount_msat, 10_000_500,
        "sat with decimals are exact msat"
    );
    let long = "x".repeat(201);
    let edit = web
        .post(
            &plan_page,
            &format!("/dashboard/plans/{plan_id}"),
            &[("name", long.as_str())],
        )
        .await;
    assert_eq!(edit.status, 400);
    assert!(edit.has_id("error-name"));
    // Acting on a canceled subscription is a 409 page, not a 500.
    let merchant = merchant_of(&app, "bob@example.com").await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &stored, None).await;
    let path = format!("/dashboard/subscriptions/{}", sub.id);
    assert_eq!(
        web.post(&path, &format!("{path}/cancel"), &[("when", "now")])
            .await
            .status,
        303
    );
    assert_eq!(
        web.post(&path, &format!("{path}/pause"), &[]).await.status,
        409
    );
    assert_eq!(
        web.post(&path, &format!("{path}/cancel"), &[("when", "later")])
            .await
            .status,
        400
    );
    let change = web
        .post(&path, &format!("{path}/plan"), &[("plan", "plan_nope")])
        .await;
    assert_eq!(change.status, 400);
}

#[tokio::test]
async fn a_teammate_joins_through_a_single_use_invitation() {
    let app = spawn_app().await;
    let mut owner = Dashboard::new(&app);
    owner.sign_up("Bobflix", "bob@example.com").await;
    let team = owner
        .post(
            "/dashboard/team",
            "/dashboard/team/invites",
            &[("email", "carol@example.com")],
        )
        .await;
    assert_eq!(team.status, 200, "{}", team.body);
    let marker = "id=\"invite-link\">";
    let at = team.body.find(marker).unwrap() + marker.len();
    let link = &team.body[at..at + team.body[at..].find('<').unwrap()];
    // The link is on the public base URL (app.base_url).
    let path = link[link.find("/dashboard/invite/").expect(link)..].to_owned();
    assert!(path.starts_with("/dashboard/invite/"), "{link}");
    // The link is not kept: the team page does not show it again.
    assert!(!owner.get("/dashboard/team").await.body.contains(&path));
    // It was emailed to the invited address (queued in the outbox; the
    // sandbox without SMTP catches it on the Emails page).
    assert!(team.has_id("invite-emailed"));
    let mail = pushbill::store::outgoing_emails::Entity::find()
        .filter(pushbill::store::outgoing_emails::Column::Kind.eq("invitation"))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to_address, "carol@example.com");
    assert!(mail[0].body_text.contains(link), "{}", mail[0].body_text);
    assert!(mail[0].subject.contains("Bobflix"), "{}", mail[0].subject);

    let mut carol = Dashboard::new(&app);
    let form = carol.get(&path).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("carol@example.com"));
    let joined = carol.post(&path, &path, &[("password", PASSWORD)]).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    let overview = carol.get("/dashboard").await;
    assert!(overview.body.contains("Bobflix"));
    let users = merchant_users::Entity::find()
        .filter(merchant_users::Column::Email.eq("carol@example.com"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        users.merchant_id,
        merchant_of(&app, "bob@example.com").await.id
    );
    assert_eq!(users.role, "member");

    // Used once: the link is gone.
    let mut mallory = Dashboard::new(&app);
    assert_eq!(mallory.get(&path).await.status, 404);
    assert_eq!(
        mallory.get("/dashboard/invite/not-a-token").await.status,
        404
    );
    // Inviting an email that has an account is refused at the field.
    let dup = owner
        .post(
            "/dashboard/team",
            "/dashboard/team/invites",
            &[("email", "carol@example.com")],
        )
        .await;
    assert_eq!(dup.status, 400);
    assert!(dup.has_id("error-email"));
}

#[tokio::test]
async fn the_overview_counts_subscriptions_and_mrr_and_charts_revenue() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = merchant_of(&app, "bob@example.com").await;
    let monthly = app.monthly_plan(&merchant).await; // 10,000 sat a month
    let trial = app.trial_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let paid = app.subscribe(&merchant, &customer, &monthly, None).await;
    app.subscribe(&merchant, &customer, &monthly, None).await;
    app.subscribe(&merchant, &customer, &trial, None).await;
    let first = app.invoices_of(&paid.id).await.remove(0);
    app.pay(&first.id).await;

    let page = web.get("/dashboard").await;
    assert_eq!(page.status, 200);
    let text = |id: &str| crate::support::browser::text_of(&page.body, id).unwrap();
    assert_eq!(text("count-active"), "2");
    assert_eq!(text("count-trialing"), "1");
    assert_eq!(text("count-past-due"), "0");
    assert_eq!(text("mrr"), "20000 sat");
    assert!(page.body.contains("<svg id=\"revenue-chart\""));
    assert!(
        page.body.contains("December 2027: 10000 sat"),
        "{}",
        page.body
    );
    assert!(page.body.contains("invoice.paid"));
}

/// The Sandbox page moves the signed-in merchant's test clock (a minute, an
/// hour, a day or a month), which bills what falls due, like the API's
/// advance; another merchant's clock stays; the form needs its CSRF token
/// and a known step.
#[tokio::test]
async fn the_sandbox_page_moves_the_merchants_test_clock_and_bills() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = merchant_of(&app, "bob@example.com").await;
    let mut other = Dashboard::new(&app);
    other.sign_up("Alicetv", "alice@example.com").await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let first = app.invoices_of(&sub.id).await.remove(0);
    app.pay(&first.id).await;

    let overview = web.get("/dashboard").await;
    assert!(overview.has_id("nav-sandbox"));
    let page = web.get("/dashboard/sandbox").await;
    assert_eq!(page.status, 200);
    // With the test clock the demo subscribers are offered (started in
    // tests/slow/cli/demo.rs: they are `pushbill` child processes).
    assert!(page.has_id("start-demo"), "{}", page.body);
    assert!(!page.has_id("demo-off"));
    let clock = |page: &crate::support::dashboard::Page| {
        crate::support::browser::text_of(&page.body, "clock").unwrap()
    };
    let start = clock(&page);
    assert_eq!(start, when(t0()));
    assert_eq!(clock(&other.get("/dashboard/sandbox").await), start);

    let refused = web
        .post_raw("/dashboard/sandbox/clock", &[("by", "month")])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let unknown = web
        .post(
            "/dashboard/sandbox",
            "/dashboard/sandbox/clock",
            &[("by", "year")],
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.body.contains("minute, hour, day or month"),
        "{}",
        unknown.body
    );
    assert_eq!(clock(&web.get("/dashboard/sandbox").await), start);

    let moved = web
        .post(
            "/dashboard/sandbox",
            "/dashboard/sandbox/clock",
            &[("by", "hour")],
        )
        .await;
    assert_eq!(moved.status, 303);
    assert_eq!(moved.location.as_deref(), Some("/dashboard/sandbox"));
    let hour = t0() + chrono::Duration::hours(1);
    assert_eq!(clock(&web.get("/dashboard/sandbox").await), when(hour));
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1, "nothing due yet");

    web.post(
        "/dashboard/sandbox",
        "/dashboard/sandbox/clock",
        &[("by", "month")],
    )
    .await;
    let month = hour.checked_add_months(chrono::Months::new(1)).unwrap();
    let page = web.get("/dashboard/sandbox").await;
    assert_eq!(clock(&page), when(month));
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 2, "the second month is billed");
    assert!(
        page.has_id(&invoices[1].id),
        "the page lists the new invoice"
    );

    // Alice's clock did not move.
    assert_eq!(clock(&other.get("/dashboard/sandbox").await), start);

    // Subscribers whose node the handshake proved are listed; a node id
    // typed in is not.
    assert!(!page.has_id(&format!("subscriber-{}", customer.id)));
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let mut row: pushbill::store::customers::ActiveModel = customer.clone().into();
    row.node_id_verified = Set(true);
    row.update(&app.db).await.unwrap();
    let page = web.get("/dashboard/sandbox").await;
    assert!(
        page.has_id(&format!("subscriber-{}", customer.id)),
        "{}",
        page.body
    );
    assert!(
        !other
            .get("/dashboard/sandbox")
            .await
            .has_id(&format!("subscriber-{}", customer.id))
    );
}

/// Without the test clock the Sandbox page does not offer the demo
/// subscribers and says why; the form posted anyway is refused (409) and
/// starts nothing.
#[tokio::test]
async fn without_the_test_clock_the_sandbox_page_does_not_offer_the_demo_subscribers() {
    use crate::support::app::{fresh_database, test_settings};
    let database = fresh_database().await;
    let mut settings = test_settings(&database.url);
    settings.clock.mode = pushbill::config::ClockMode::System;
    let app = pushbill::app::Application::build(settings)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let mut web = Dashboard::at(&address);
    web.sign_up("Bobflix", "bob@example.com").await;
    let page = web.get("/dashboard/sandbox").await;
    assert_eq!(page.status, 200);
    assert!(page.has_id("clock-off"), "{}", page.body);
    assert!(page.has_id("demo-off"), "{}", page.body);
    assert!(!page.has_id("start-demo"));
    let refused = web
        .post(
            "/dashboard/sandbox",
            "/dashboard/sandbox/demo",
            &[("subscribers", "2")],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(
        refused.body.contains("need the test clock"),
        "{}",
        refused.body
    );
    assert!(!web.get("/dashboard/sandbox").await.has_id("demo-log"));
    shutdown.cancel();
    server.await.unwrap().unwrap();
}

/// Webhooks from the dashboard: an endpoint added with its secret shown
/// once, a real receiver on loopback answering 500 then 200, the delivery's
/// page with the body as sent and each attempt's answer, replay, rotation
/// (a new secret, once), disable (replay refused), delete; CSRF; another
/// merchant gets 404 for all of it; bad input at the field.
#[tokio::test]
async fn webhook_endpoints_deliveries_and_replay_from_the_dashboard() {
    use crate::support::webhook_receiver::{Answer, Receiver, verify};
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = merchant_of(&app, "bob@example.com").await;
    let mut alice = Dashboard::new(&app);
    alice.sign_up("Alicetv", "alice@example.com").await;
    let receiver = Receiver::start().await;
    receiver.script([Answer::status(500), Answer::status(200)]);
    let text = |page: &crate::support::dashboard::Page, id: &str| {
        crate::support::browser::text_of(&page.body, id)
    };

    assert!(web.get("/dashboard").await.has_id("nav-webhooks"));
    let bad = web
        .post(
            "/dashboard/webhooks",
            "/dashboard/webhooks",
            &[("url", "ftp://example.com/x"), ("events", "*")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"error-url\""), "{}", bad.body);
    let bad = web
        .post(
            "/dashboard/webhooks",
            "/dashboard/webhooks",
            &[("url", &receiver.url), ("events", "invoice.nope")],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"error-events\""), "{}", bad.body);
    let refused = web
        .post_raw(
            "/dashboard/webhooks",
            &[("url", &receiver.url), ("events", "*")],
        )
        .await;
    assert_eq!(refused.status, 403);

    let created = web
        .post(
            "/dashboard/webhooks",
            "/dashboard/webhooks",
            &[("url", &receiver.url), ("events", "*")],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let secret = text(&created, "new-secret").expect("the secret is shown");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let list = web.get("/dashboard/webhooks").await;
    let endpoint = pushbill::store::webhook_endpoints::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(list.has_id(&endpoint.id));
    let path = format!("/dashboard/webhooks/{}", endpoint.id);
    let page = web.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(
        text(&page, "new-secret").is_none(),
        "the secret is shown once"
    );
    assert!(!page.body.contains(&secret));

    // An event (a customer created), delivered: the receiver answers 500.
    app.customer(&merchant).await;
    app.deliver_webhooks().await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert!(verify(&secret, &received[0]));
    let delivery = pushbill::store::webhook_deliveries::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(web.get(&path).await.has_id(&delivery.id));
    let delivery_path = format!("/dashboard/webhook_deliveries/{}", delivery.id);
    let page = web.get(&delivery_path).await;
    assert_eq!(page.status, 200);
    let body = text(&page, "request-body").unwrap();
    let body = body
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent, received[0].json(), "the page shows the body as sent");
    assert!(page.has_id("attempt-1"));
    assert!(page.body.contains("answer 500"), "{}", page.body);

    // Replay: sent again at once, and the receiver takes it.
    let replayed = web
        .post(&delivery_path, &format!("{delivery_path}/replay"), &[])
        .await;
    assert_eq!(replayed.status, 303);
    app.deliver_webhooks().await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(
        receiver.received()[1].id,
        received[0].id,
        "the same webhook-id"
    );
    let page = web.get(&delivery_path).await;
    assert!(page.has_id("attempt-2"));
    assert_eq!(text(&page, "attempt-count").as_deref(), Some("2"));

    // Another merchant sees none of it.
    for other in [path.clone(), delivery_path.clone()] {
        assert_eq!(alice.get(&other).await.status, 404, "{other}");
    }
    for action in ["rotate", "delete"] {
        let page = alice
            .post("/dashboard", &format!("{path}/{action}"), &[])
            .await;
        assert_eq!(page.status, 404, "{action}");
    }
    assert_eq!(
        alice
            .post("/dashboard", &format!("{delivery_path}/replay"), &[])
            .await
            .status,
        404
    );

    // Rotate: a new secret, shown once.
    let rotated = web.post(&path, &format!("{path}/rotate"), &[]).await;
    assert_eq!(rotated.status, 200);
    let new_secret = text(&rotated, "new-secret").unwrap();
    assert_ne!(new_secret, secret);
    assert!(!web.get(&path).await.body.contains(&new_secret));

    // Disabled: replay is refused until enabled again.
    let disabled = web
        .post(&path, &format!("{path}/enabled"), &[("enabled", "false")])
        .await;
    assert_eq!(disabled.status, 303);
    assert_eq!(
        text(&web.get(&path).await, "endpoint-status").as_deref(),
        Some("disabled")
    );
    let refused = web
        .post(&delivery_path, &format!("{delivery_path}/replay"), &[])
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let bad = web
        .post(&path, &format!("{path}/enabled"), &[("enabled", "maybe")])
        .await;
    assert_eq!(bad.status, 400);

    let deleted = web.post(&path, &format!("{path}/delete"), &[]).await;
    assert_eq!(deleted.status, 303);
    assert_eq!(web.get(&path).await.status, 404);
    assert!(web.get("/dashboard/webhooks").await.has_id("no-endpoints"));
}

/// Email settings from the dashboard: the same choices as
/// /v1/settings/email (customer emails on or off, the merchant's address,
/// the unpaid report), bad input at the field, CSRF.
#[tokio::test]
async fn email_settings_are_changed_from_the_dashboard() {
    use pushbill::notify::email::messages::{self, UnpaidSummary};
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = merchant_of(&app, "bob@example.com").await;
    let path = "/dashboard/settings/email";
    let page = web.get(path).await;
    assert_eq!(page.status, 200);
    for kind in ["payment_request", "receipt", "trial_ending"] {
        assert!(
            page.body.contains(&format!("id=\"email_{kind}\" checked")),
            "{kind} is on by default"
        );
    }
    let mut form = vec![
        ("email_payment_request", "on"),
        ("email_payment_failed", "on"),
        ("email_invoice_unpaid", "on"),
        ("email_subscription_canceled", "on"),
        ("email_trial_ending", "on"),
        ("merchant_address", "billing@bobflix.example"),
        ("unpaid_summary", "daily"),
        ("unpaid_summary_hour", "9"),
    ];
    assert_eq!(web.post_raw(path, &form).await.status, 403);
    let saved = web.post(path, path, &form).await;
    assert_eq!(saved.status, 200, "{}", saved.body);
    assert!(saved.has_id("saved"));
    assert!(!saved.body.contains("id=\"email_receipt\" checked"));
    let prefs = messages::get(&app.db, &merchant.id).await.unwrap();
    assert_eq!(prefs.disabled, ["receipt"]);
    assert_eq!(
        prefs.merchant_address.as_deref(),
        Some("billing@bobflix.example")
    );
    assert_eq!(prefs.unpaid_summary, UnpaidSummary::Daily);
    assert_eq!(prefs.unpaid_summary_hour, 9);

    for (field, value) in [
        ("merchant_address", "not an address"),
        ("merchant_address", "bob\0@example.com"),
        ("unpaid_summary", "weekly"),
        ("unpaid_summary_hour", "25"),
        ("unpaid_summary_hour", "99999999999999999999"),
    ] {
        let mut bad = form.clone();
        bad.retain(|(k, _)| *k != field);
        bad.push((field, value));
        let page = web.post(path, path, &bad).await;
        assert_eq!(page.status, 400, "{field}={value:?}");
        // At the field; a NUL is refused before the page, naming the field.
        assert!(
            page.body.contains(&format!("id=\"error-{field}\""))
                || page
                    .body
                    .contains(&format!("{field}: must not contain the NUL")),
            "{field}: {}",
            page.body
        );
    }
    assert_eq!(
        messages::get(&app.db, &merchant.id).await.unwrap(),
        prefs,
        "nothing changed"
    );

    // An empty address goes back to the dashboard user's.
    form.retain(|(k, _)| *k != "merchant_address");
    form.push(("merchant_address", ""));
    web.post(path, path, &form).await;
    let prefs = messages::get(&app.db, &merchant.id).await.unwrap();
    assert_eq!(prefs.merchant_address, None);
}

/// Without `[smtp]` (the sandbox's default) the Emails page catches every
/// email: the list, an email's text, its HTML part in a script-less
/// sandbox; another merchant's email is a 404.
#[tokio::test]
async fn the_emails_page_catches_what_would_be_sent() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = merchant_of(&app, "bob@example.com").await;
    let mut other = Dashboard::new(&app);
    other.sign_up("Alicetv", "alice@example.com").await;
    let page = web.get("/dashboard/emails").await;
    assert_eq!(page.status, 200);
    assert!(page.has_id("catcher") && page.has_id("no-emails"));

    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let first = app.invoices_of(&sub.id).await.remove(0);
    app.pay(&first.id).await;
    app.deliver_webhooks().await;

    let emails = pushbill::store::outgoing_emails::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    let receipt = emails
        .iter()
        .find(|e| e.kind == "receipt")
        .expect("a receipt was written");
    assert_eq!(receipt.status, "pending", "nothing is sent without SMTP");
    let page = web.get("/dashboard/emails").await;
    for e in &emails {
        assert!(page.has_id(&e.id), "{} is listed", e.id);
    }
    let path = format!("/dashboard/emails/{}", receipt.id);
    let page = web.get(&path).await;
    assert_eq!(page.status, 200);
    let to = crate::support::browser::text_of(&page.body, "email-to").unwrap();
    assert_eq!(to, customer.email.clone().unwrap());
    assert!(
        page.body.contains(&first.number),
        "the text names the invoice"
    );

    let part = app
        .http
        .get(format!("{}{path}/html", app.address))
        .header("cookie", web.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 200);
    let csp = part.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("sandbox; default-src 'none'"), "{csp}");
    assert_eq!(part.text().await.unwrap(), receipt.body_html);

    for p in [path.clone(), format!("{path}/html")] {
        assert_eq!(other.get(&p).await.status, 404, "{p}");
    }
}

/// The sandbox's webhook inspector: an endpoint added to it from the
/// Webhooks page receives the real deliveries over HTTP, which the
/// inspector page shows with their signature verified; a forged request
/// shows as unverified; another merchant sees none of it; it keeps the
/// newest 100.
#[tokio::test]
async fn the_webhook_inspector_receives_real_deliveries_and_checks_signatures() {
    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = merchant_of(&app, "bob@example.com").await;
    let mut alice = Dashboard::new(&app);
    alice.sign_up("Alicetv", "alice@example.com").await;

    assert!(web.get("/dashboard/webhooks").await.has_id("add-inspector"));
    let added = web
        .post("/dashboard/webhooks", "/dashboard/webhooks/inspector", &[])
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    assert!(added.has_id("new-secret"), "the secret is shown once");
    let url = format!("{}/sandbox/inspector/{}", app.address, merchant.id);
    assert!(added.body.contains(&url), "{}", added.body);

    // A real delivery, by the real sender, over loopback.
    app.customer(&merchant).await;
    app.deliver_webhooks().await;
    let page = web.get("/dashboard/webhooks/inspector").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("customer.created"), "{}", page.body);
    assert!(page.body.contains("signature verified"), "{}", page.body);
    assert!(!page.body.contains("no valid signature"));

    // A forged one.
    let forged = app
        .http
        .post(&url)
        .header("webhook-id", "evt_forged")
        .header("webhook-timestamp", "1")
        .header("webhook-signature", "v1,AAAA")
        .body(r#"{"type":"invoice.paid"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 200);
    let page = web.get("/dashboard/webhooks/inspector").await;
    assert!(page.body.contains("no valid signature"), "{}", page.body);
    assert!(page.body.contains("signature verified"));

    // Not another merchant's, not an unknown merchant's.
    assert!(
        alice
            .get("/dashboard/webhooks/inspector")
            .await
            .has_id("no-requests")
    );
    let unknown = app
        .http
        .post(format!("{}/sandbox/inspector/mer_nope", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Bounded: the newest 100 per merchant.
    for i in 0..105 {
        app.http
            .post(&url)
            .body(format!("{{\"n\": {i}}}"))
            .send()
            .await
            .unwrap();
    }
    let kept = pushbill::store::webhook_inspector_requests::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(kept.len(), 100);
    assert!(kept.iter().any(|r| r.body == "{\"n\": 104}"));
    assert!(!kept.iter().any(|r| r.body.contains("customer.created")));
}

/// Every id a search answers, page after page (newest first).
async fn search_all(app: &crate::support::app::TestApp, merchant: &str, q: &str) -> Vec<String> {
    use pushbill::store::page::{Cursor, PageParams};
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = pushbill::catalog::customers::search(
            &app.db,
            merchant,
            q,
            &PageParams { limit: 100, cursor },
        )
        .await
        .unwrap();
        ids.extend(page.data.iter().map(|c| c.id.clone()));
        if !page.has_more {
            return ids;
        }
        cursor = Some(Cursor::After(ids.last().unwrap().clone()));
    }
}

#[tokio::test]
async fn customer_search_finds_prefixes_ids_and_references_few_or_many() {
    use pushbill::catalog::customers::{self, NewCustomer};
    use pushbill::store::customers as rows;
    use sea_orm::ActiveValue::Set;
    let app = spawn_app().await;
    let merchant = app.merchant().await.id;
    let other = pushbill::catalog::merchants::create(&app.db, app.now(), "Eve", "EVE")
        .await
        .unwrap()
        .id;
    let make = |email: &str, name: Option<&str>, external: Option<&str>| NewCustomer {
        email: Some(email.parse().unwrap()),
        name: name.map(str::to_owned),
        external_id: external.map(str::to_owned),
        ..NewCustomer::default()
    };
    let ada = customers::create(
        &app.db,
        app.now(),
        &merchant,
        make("Ada.L@example.com", Some("Ada Lovelace"), Some("crm-7")),
    )
    .await
    .unwrap();
    let grace = customers::create(
        &app.db,
        app.now(),
        &merchant,
        make("grace@navy.example", Some("Grace Hopper"), None),
    )
    .await
    .unwrap();
    let odd = customers::create(
        &app.db,
        app.now(),
        &merchant,
        make("odd@example.com", Some("50%_off\\deal"), None),
    )
    .await
    .unwrap();
    customers::create(
        &app.db,
        app.now(),
        &other,
        make("ada@eve.example", Some("Ada Eve"), None),
    )
    .await
    .unwrap();
    // 1,200 more whose emails start with "bulk": past the prefix ranges' cap.
    let bulk: Vec<rows::ActiveModel> = (0..1_200)
        .map(|i| rows::ActiveModel {
            id: Set(pushbill::domain::CustomerId::new().to_string()),
            merchant_id: Set(merchant.clone()),
            email: Set(Some(format!("bulk{i:04}@example.com"))),
            name: Set(None),
            external_id: Set(None),
            node_id: Set(None),
            node_address: Set(None),
            node_id_verified: Set(false),
            metadata: Set(serde_json::json!({})),
            balance_msat: Set(0),
            deleted_at: Set(None),
            created_at: Set(app.now()),
            updated_at: Set(app.now()),
        })
        .collect();
    pushbill::store::insert_all(&app.db, bulk).await.unwrap();

    // The start of the email or of the name, any case; another merchant's
    // customers never.
    assert_eq!(
        search_all(&app, &merchant, "ada").await,
        vec![ada.id.clone()]
    );
    assert_eq!(
        search_all(&app, &merchant, "ADA.l@").await,
        vec![ada.id.clone()]
    );
    assert_eq!(
        search_all(&app, &merchant, "grace h").await,
        vec![grace.id.clone()]
    );
    assert_eq!(
        search_all(&app, &merchant, "Grace").await,
        vec![grace.id.clone()]
    );
    // Not the middle of a word, nor a LIKE wildcard.
    assert!(search_all(&app, &merchant, "lovelace").await.is_empty());
    assert!(search_all(&app, &merchant, "%").await.is_empty());
    assert_eq!(
        search_all(&app, &merchant, "50%_off\\").await,
        vec![odd.id.clone()]
    );
    assert!(search_all(&app, &merchant, "50__").await.is_empty());
    // The id and your reference, exactly.
    assert_eq!(
        search_all(&app, &merchant, &grace.id).await,
        vec![grace.id.clone()]
    );
    assert_eq!(
        search_all(&app, &merchant, "crm-7").await,
        vec![ada.id.clone()]
    );
    assert!(search_all(&app, &other, &grace.id).await.is_empty());

    // Many matches: walked by id, all of them, in order, once each.
    let many = search_all(&app, &merchant, "bulk").await;
    assert_eq!(many.len(), 1_200);
    let mut sorted = many.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(many, sorted, "newest first, no repeats");
    // Few of them: found through the ranges.
    assert_eq!(search_all(&app, &merchant, "bulk011").await.len(), 10);
    assert_eq!(search_all(&app, &merchant, "BULK0007@").await.len(), 1);

    // A deleted customer is found no more.
    customers::delete(&app.db, app.now(), &merchant, &grace.id)
        .await
        .unwrap();
    assert!(search_all(&app, &merchant, "grace").await.is_empty());
}

/// A subscription's page says how it is paid: the customer's node (push),
/// email and the pay page (manual), or the subscriber's wallet with its
/// relays and the budget it reported (a scripted NIP-47 wallet over a real
/// relay answering get_info and get_budget).
#[tokio::test]
async fn a_subscriptions_page_says_how_it_is_paid() {
    use std::sync::Arc;

    use pushbill::billing::payment_methods::{self, NewMethod, Owner, WalletCheck};
    use secrecy::SecretString;

    use crate::support::nwc::{Relay, ScriptedWallet, info};

    let app = spawn_app().await;
    let mut web = Dashboard::new(&app);
    web.sign_up("Bobflix", "bob@example.com").await;
    let merchant = merchant_of(&app, "bob@example.com").await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let path = format!("/dashboard/subscriptions/{}", sub.id);
    let paid_by = |body: &str| -> String {
        let start = body.find(r#"id="sub-payment">"#).expect("the Paid by line") + 17;
        body[start..start + body[start..].find("</dd>").unwrap()].to_owned()
    };
    let body = web.get(&path).await.body;
    assert_eq!(
        paid_by(&body),
        "push: the customer&#39;s node (without one, the pay page)"
    );

    let set = |method: NewMethod| {
        let app = &app;
        let owner = Owner {
            merchant_id: &merchant.id,
            customer_id: None,
        };
        let sub = sub.id.clone();
        async move {
            payment_methods::set(
                &app.db,
                &WalletCheck::of(&app.context),
                app.now(),
                owner,
                &sub,
                method,
            )
            .await
            .unwrap()
        }
    };
    set(NewMethod::Manual).await;
    assert_eq!(
        paid_by(&web.get(&path).await.body),
        "manual: email and the pay page"
    );

    let relay = Relay::start().await;
    let wallet = ScriptedWallet::start(
        &relay.url,
        "pay_invoice get_info get_budget",
        Arc::new(|method, _| match method {
            "get_info" => Some(info(&["pay_invoice", "get_info", "get_budget"], "regtest")),
            "get_budget" => Some(serde_json::json!({
                "used_budget": 1_000, "total_budget": 50_000_000, "renewal_period": "monthly"
            })),
            _ => None,
        }),
    )
    .await;
    let with = set(NewMethod::Nwc(SecretString::from(wallet.uri.clone()))).await;
    let connection = with.wallet.expect("connected");
    assert_eq!(
        (
            connection.budget_total_msat,
            connection.budget_used_msat,
            connection.budget_renewal.as_deref()
        ),
        (Some(50_000_000), Some(1_000), Some("monthly"))
    );
    let shown = paid_by(&web.get(&path).await.body);
    assert_eq!(
        shown,
        format!(
            "nwc: the subscriber&#39;s wallet scripted ({}, over {}); budget 50000 sat monthly when connected",
            connection.id, relay.url
        )
    );
    wallet.stop().await;
}
