//! The merchant's unpaid summary: `daily` (one email a day at the merchant's
//! hour listing what went unpaid since the previous one, none on a quiet
//! day) and `off`, under the advanced test clock, with a real SMTP server;
//! and two `pushbill serve --roles worker` processes (one killed and
//! restarted) making one summary per day between them.

use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Timelike, Utc};
use pushbill::store::{self, email_digests, outgoing_emails, unpaid_digest_items};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::support::app::{Api, TestApp, spawn_app};
use crate::support::email::{FROM, drain, mailing_app, with_subject};
use crate::support::smtp::{SmtpServer, free_port, part};
use crate::support::wait::wait_until;

const SUMMARY: &str = "unpaid invoice";

async fn customer(api: &Api, email: &str) -> String {
    let r = api.post("/v1/customers", json!({"email": email})).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.id()
}

async fn first_invoice(app: &TestApp, sub: &str) -> pushbill::store::invoices::Model {
    app.invoices_of(sub).await.remove(0)
}

async fn went_unpaid(app: &TestApp, invoice_id: &str) -> bool {
    app.event_types(invoice_id)
        .await
        .contains(&"invoice.unpaid".to_owned())
}

/// Runs billing a day at a time (issuing payment requests, never paying)
/// until every invoice went unpaid.
async fn step_until_unpaid(app: &TestApp, invoice_ids: &[&str]) {
    for _ in 0..40 {
        let mut all = true;
        for id in invoice_ids {
            all &= went_unpaid(app, id).await;
        }
        if all {
            return;
        }
        app.issue_pending(Duration::days(30)).await;
        app.advance(Duration::days(1)).await;
    }
    panic!("the invoices never went unpaid");
}

fn summaries(server: &SmtpServer) -> Vec<Value> {
    with_subject(&server.messages(), SUMMARY)
        .into_iter()
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_daily_summary_lists_what_went_unpaid_once_a_day_at_the_merchant_s_hour() {
    let (server, app) = mailing_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/settings/email",
            json!({"unpaid_summary": "daily", "unpaid_summary_hour": 8, "merchant_address": "ops@bobflix.example"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let plan = api.monthly_plan().await;
    let (alice, bob) = (
        customer(&api, "alice@example.com").await,
        customer(&api, "bob@example.com").await,
    );
    let a = first_invoice(&app, &api.subscription(&alice, &plan).await).await;
    let b = first_invoice(&app, &api.subscription(&bob, &plan).await).await;
    app.advance(Duration::days(1)).await;
    let carol = customer(&api, "carol@example.com").await;
    let c = first_invoice(&app, &api.subscription(&carol, &plan).await).await;

    step_until_unpaid(&app, &[&a.id, &b.id]).await;
    assert!(
        !went_unpaid(&app, &c.id).await,
        "carol's invoice is a day behind"
    );
    let day = app.now();
    assert_eq!((day.hour(), day.minute()), (0, 0));

    // The customers hear at once; the merchant waits for the summary.
    drain(&app).await;
    let received = server.messages();
    assert_eq!(
        with_subject(&received, "is unpaid").len(),
        2,
        "{received:#?}"
    );
    assert!(with_subject(&received, "Unpaid invoice").is_empty());
    assert!(summaries(&server).is_empty());
    app.clock.set(day + Duration::minutes(7 * 60 + 59)).unwrap();
    drain(&app).await;
    assert!(summaries(&server).is_empty(), "not before 08:00 UTC");

    app.clock.set(day + Duration::hours(8)).unwrap();
    assert_eq!(drain(&app).await.sent, 1);
    let sent = summaries(&server);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let m = &sent[0];
    assert_eq!(m["headers"]["to"], "ops@bobflix.example");
    assert_eq!(m["headers"]["from"], format!("Bobflix Billing <{FROM}>"));
    assert_eq!(
        m["headers"]["subject"],
        format!(
            "2 unpaid invoices (20000 sat) for {}",
            day.format("%Y-%m-%d")
        )
    );
    for body in [part(m, "text/plain"), part(m, "text/html")] {
        assert!(
            body.contains(&a.number) && body.contains(&b.number),
            "{body}"
        );
        assert!(!body.contains(&c.number), "{body}");
        assert!(
            body.contains("alice@example.com") && body.contains("10000 sat"),
            "{body}"
        );
    }
    assert_eq!(
        drain(&app).await,
        pushbill::notify::email::Drained::default()
    );

    // Carol's invoice goes unpaid the next day: the next summary, alone.
    app.advance_to(day + Duration::days(1)).await;
    assert!(went_unpaid(&app, &c.id).await);
    drain(&app).await;
    assert_eq!(summaries(&server).len(), 1);
    app.clock
        .set(day + Duration::hours(24 + 8) + Duration::minutes(30))
        .unwrap();
    drain(&app).await;
    let sent = summaries(&server);
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let second = sent
        .iter()
        .find(|m| part(m, "text/plain").contains(&c.number))
        .expect("the second summary lists carol's invoice");
    let text = part(second, "text/plain");
    assert!(
        !text.contains(&a.number) && !text.contains(&b.number),
        "{text}"
    );
    assert_eq!(
        second["headers"]["subject"],
        format!(
            "1 unpaid invoice (10000 sat) for {}",
            (day + Duration::days(1)).format("%Y-%m-%d")
        )
    );

    // A quiet day: no summary.
    app.advance_to(day + Duration::days(2) + Duration::hours(9))
        .await;
    drain(&app).await;
    assert_eq!(summaries(&server).len(), 2);
    let rows = email_digests::Entity::find()
        .order_by_asc(email_digests::Column::DigestDate)
        .all(&app.db)
        .await
        .unwrap();
    let counts: Vec<(String, i32)> = rows
        .iter()
        .map(|r| (r.digest_date.clone(), r.invoice_count))
        .collect();
    assert_eq!(
        counts,
        [
            (day.format("%Y-%m-%d").to_string(), 2),
            ((day + Duration::days(1)).format("%Y-%m-%d").to_string(), 1)
        ]
    );
}

#[tokio::test]
async fn with_the_summary_off_the_merchant_gets_no_unpaid_email_and_customers_still_do() {
    let (server, app) = mailing_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/settings/email",
            json!({"unpaid_summary": "off", "merchant_address": "ops@bobflix.example"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let plan = api.monthly_plan().await;
    let alice = customer(&api, "alice@example.com").await;
    let a = first_invoice(&app, &api.subscription(&alice, &plan).await).await;
    step_until_unpaid(&app, &[&a.id]).await;
    drain(&app).await;
    app.advance(Duration::days(2)).await;
    drain(&app).await;
    let received = server.messages();
    assert_eq!(
        with_subject(&received, "is unpaid").len(),
        1,
        "{received:#?}"
    );
    assert!(
        received
            .iter()
            .all(|m| m["headers"]["to"] != "ops@bobflix.example"),
        "{received:#?}"
    );
    assert_eq!(
        unpaid_digest_items::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
}

fn worker(database_url: &str, smtp_port: u16) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushbill"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PUSHBILL") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["serve", "--roles", "worker"])
        .env("PUSHBILL__DATABASE__URL", database_url)
        .env("PUSHBILL__CLOCK__MODE", "test")
        .env("PUSHBILL__SMTP__HOST", "127.0.0.1")
        .env("PUSHBILL__SMTP__PORT", smtp_port.to_string())
        .env("PUSHBILL__SMTP__SECURITY", "none")
        .env("PUSHBILL__SMTP__FROM", FROM)
        .env("PUSHBILL__WEBHOOKS__POLL_INTERVAL_MS", "50")
        .env("PUSHBILL__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pushbill serve --roles worker")
}

async fn summary_count(server: &SmtpServer) -> usize {
    summaries(server).len()
}

async fn all_mail_sent(db: &sea_orm::DatabaseConnection) -> bool {
    let total = outgoing_emails::Entity::find().count(db).await.unwrap();
    let sent = outgoing_emails::Entity::find()
        .filter(outgoing_emails::Column::Status.eq("sent"))
        .count(db)
        .await
        .unwrap();
    total > 0 && total == sent
}

/// Moves the sandbox clock every process shares.
async fn share_clock(app: &TestApp, to: DateTime<Utc>) {
    app.clock.set(to).unwrap();
    store::sandbox_clock::save(&app.db, store::sandbox_clock::DEPLOYMENT, to)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_and_a_restart_make_one_summary_a_day() {
    let port = free_port();
    let server = SmtpServer::start(port).await;
    // The web role in this process (no SMTP here: the workers send).
    let app = spawn_app().await;
    let api = app.api().await;
    let r = api
        .post(
            "/v1/settings/email",
            json!({"unpaid_summary": "daily", "unpaid_summary_hour": 6, "merchant_address": "ops@bobflix.example"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let plan = api.monthly_plan().await;
    let mut invoices = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let c = customer(&api, &format!("{name}@example.com")).await;
        invoices.push(first_invoice(&app, &api.subscription(&c, &plan).await).await);
    }
    let ids: Vec<&str> = invoices.iter().map(|i| i.id.as_str()).collect();
    step_until_unpaid(&app, &ids).await;
    let day = app.now();
    share_clock(&app, day + Duration::hours(7)).await;

    let mut workers = vec![
        worker(&app.database.url, port),
        worker(&app.database.url, port),
    ];
    wait_until("the summary", StdDuration::from_secs(120), || async {
        summary_count(&server).await >= 1 && all_mail_sent(&app.db).await
    })
    .await;
    // One worker dies and comes back; both keep polling.
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    workers[0] = worker(&app.database.url, port);
    tokio::time::sleep(StdDuration::from_secs(4)).await;
    let sent = summaries(&server);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let text = part(&sent[0], "text/plain");
    for i in &invoices {
        assert!(text.contains(&i.number), "{text}");
    }
    // The customers' own emails went once each too.
    assert_eq!(with_subject(&server.messages(), "is unpaid").len(), 3);

    // The next day, with nothing new unpaid, no summary.
    share_clock(&app, day + Duration::days(1) + Duration::hours(7)).await;
    tokio::time::sleep(StdDuration::from_secs(4)).await;
    for w in &mut workers {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    assert_eq!(summary_count(&server).await, 1);
    let rows = email_digests::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].invoice_count, 3);
    assert_eq!(rows[0].digest_date, day.format("%Y-%m-%d").to_string());
    assert!(rows[0].email_id.is_some());
}
