//! Email end to end: the real billing engine and outbox, lettre's SMTP
//! transport, and a real SMTP server (aiosmtpd) on loopback.

use chrono::Duration;
use pushbill::domain::OutgoingEmailStatus;
use pushbill::node::push_queue::{self as queue, Outcome};
use pushbill::notify::email::{self, messages, outbox};
use pushbill::store::{invoices, pay_links};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::support::app::{TestApp, odd_plan};
use crate::support::email::{FROM, app_with_smtp, drain, mailing_app, rows, with_subject};
use crate::support::smtp::{SmtpServer, free_port, part, require_aiosmtpd};
use crate::support::webhook_receiver::{Answer, Receiver};

#[tokio::test]
async fn the_unpaid_invoice_email_reaches_the_customer_with_headers_both_parts_and_the_bolt11() {
    let (server, app) = mailing_app().await;
    let merchant = app.merchant().await;
    messages::set_merchant_address(
        &app.db,
        app.now(),
        &merchant.id,
        Some("ops@bobflix.example"),
    )
    .await
    .unwrap();
    let plan = odd_plan(&app, &merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.issue_pending(Duration::hours(2)).await;
    // Default dunning: due after a day, retries, 7 days of grace, unpaid.
    app.advance_to(invoice.due_at).await;
    for _ in 0..8 {
        app.issue_pending(Duration::days(30)).await;
        app.advance(Duration::days(1)).await;
    }
    assert!(
        app.event_types(&invoice.id)
            .await
            .contains(&"invoice.unpaid".to_owned())
    );
    let bolt11 = app
        .payment_requests_of(&invoice.id)
        .await
        .into_iter()
        .filter_map(|r| r.bolt11)
        .next_back()
        .expect("a BOLT11 was issued");

    let done = drain(&app).await;
    assert_eq!(done.failed_attempts, 0);
    let received = server.messages();
    assert_eq!(done.sent, received.len());
    let unpaid = with_subject(&received, "is unpaid");
    assert_eq!(unpaid.len(), 1, "{received:#?}");
    let m = unpaid[0];
    let h = &m["headers"];
    assert_eq!(h["from"], format!("Bobflix Billing <{FROM}>"));
    assert_eq!(h["to"], "alice@example.com");
    assert_eq!(m["rcpt_tos"], serde_json::json!(["alice@example.com"]));
    assert_eq!(
        h["subject"],
        format!("Bobflix: invoice {} is unpaid", invoice.number)
    );
    chrono::DateTime::parse_from_rfc2822(h["date"].as_str().unwrap()).expect("an RFC 5322 Date");
    let row = rows(&app, "invoice_unpaid").await.remove(0);
    assert_eq!(h["message-id"], format!("<{}@bobflix.example>", row.id));
    assert_eq!(m["content_type"], "multipart/alternative");
    let (text, html) = (part(m, "text/plain"), part(m, "text/html"));
    // The pay link carries the invoice's unguessable token, not its id.
    let token = pay_links::Entity::find()
        .filter(pay_links::Column::InvoiceId.eq(&invoice.id))
        .one(&app.db)
        .await
        .unwrap()
        .expect("a pay link")
        .token;
    assert_eq!(token.len(), pay_links::TOKEN_LEN);
    for body in [text, html] {
        assert!(body.contains(&bolt11), "no BOLT11 in {body}");
        assert!(body.contains("10000.5 sat"), "no exact amount in {body}");
        let pay = format!("{}/pay/{token}", app.context.settings.app.base_url);
        assert!(body.contains(&pay), "no pay link in {body}");
        assert!(!body.contains(&format!("/pay/{}", invoice.id)), "{body}");
        assert!(body.contains("marked unpaid"), "no next step in {body}");
    }
    // The link opens the invoice's pay page.
    let page = app
        .http
        .get(format!("{}/pay/{token}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains(&invoice.number) && page.contains("10000.5 sat"),
        "{page}"
    );
    assert!(html.contains("<html"));
    // The dunning steps reminded the customer, and the merchant heard too.
    assert!(!with_subject(&received, "failed").is_empty());
    let merchant_mail = with_subject(&received, "Unpaid invoice");
    assert_eq!(merchant_mail.len(), 1);
    assert_eq!(merchant_mail[0]["headers"]["to"], "ops@bobflix.example");
    // Every Message-ID once: nothing was sent twice.
    let mut ids: Vec<&str> = received
        .iter()
        .map(|m| m["headers"]["message-id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), received.len());
    assert_eq!(drain(&app).await, email::Drained::default());
}

#[tokio::test]
async fn mail_waits_out_an_smtp_outage_and_arrives_exactly_once() {
    require_aiosmtpd();
    let port = free_port();
    let app = app_with_smtp(port).await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.pay(&invoice.id).await;

    // Nothing listens: the attempt fails and the mail stays queued.
    let done = drain(&app).await;
    assert_eq!((done.sent, done.failed_attempts), (0, 1));
    let row = rows(&app, "receipt").await.remove(0);
    assert_eq!(row.status, OutgoingEmailStatus::Pending.as_str());
    assert_eq!(row.attempt_count, 1);
    assert!(row.last_error.is_some());
    assert_eq!(
        row.next_attempt_at,
        Some(app.now() + outbox::RETRY.wait(1).unwrap())
    );

    // The server comes up; the retry is not due yet, then it is.
    let server = SmtpServer::start(port).await;
    assert_eq!(drain(&app).await, email::Drained::default());
    assert!(server.messages().is_empty());
    app.clock
        .set(app.now() + outbox::RETRY.wait(1).unwrap())
        .unwrap();
    assert_eq!(drain(&app).await.sent, 1);
    assert_eq!(drain(&app).await, email::Drained::default());

    let received = server.messages();
    assert_eq!(received.len(), 1, "{received:#?}");
    assert_eq!(
        received[0]["headers"]["subject"],
        format!("Bobflix: receipt for invoice {}", invoice.number)
    );
    let row = rows(&app, "receipt").await.remove(0);
    assert_eq!(row.status, OutgoingEmailStatus::Sent.as_str());
    assert_eq!(row.attempt_count, 2);
    assert_eq!(row.last_error, None);
    assert!(row.sent_at.is_some());
}

#[tokio::test]
async fn a_message_the_merchant_turned_off_is_not_sent() {
    let (server, app) = mailing_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;

    let prefs = messages::set_customer_email(&app.db, app.now(), &merchant.id, "receipt", false)
        .await
        .unwrap();
    assert_eq!(prefs.disabled, ["receipt"]);
    let first = app.invoices_of(&sub.id).await.remove(0);
    app.pay(&first.id).await;
    assert_eq!(drain(&app).await, email::Drained::default());
    assert!(server.messages().is_empty());
    assert!(rows(&app, "receipt").await.is_empty());

    // Turned back on, the next receipt goes out.
    messages::set_customer_email(&app.db, app.now(), &merchant.id, "receipt", true)
        .await
        .unwrap();
    app.advance(Duration::days(32)).await;
    let second = app
        .invoices_of(&sub.id)
        .await
        .into_iter()
        .find(|i| i.id != first.id)
        .expect("the next period's invoice");
    app.pay(&second.id).await;
    assert_eq!(drain(&app).await.sent, 1);
    let received = server.messages();
    assert_eq!(received.len(), 1);
    assert!(
        received[0]["headers"]["subject"]
            .as_str()
            .unwrap()
            .contains(&second.number)
    );

    let bad = messages::set_customer_email(&app.db, app.now(), &merchant.id, "bogus", false).await;
    assert!(bad.is_err());
}

#[tokio::test]
async fn the_customer_gets_a_receipt_on_payment() {
    let (server, app) = mailing_app().await;
    let merchant = app.merchant().await;
    let plan = odd_plan(&app, &merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.pay(&invoice.id).await;
    let paid_at = app.invoice(&invoice.id).await.paid_at.unwrap();

    assert_eq!(drain(&app).await.sent, 1);
    let received = server.messages();
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m["headers"]["to"], "alice@example.com");
    assert_eq!(
        m["headers"]["subject"],
        format!("Bobflix: receipt for invoice {}", invoice.number)
    );
    // The period's days, the last one included (its end is exclusive).
    let period = format!(
        "{} to {}",
        invoice.period_start.unwrap().format("%Y-%m-%d"),
        (invoice.period_end.unwrap() - chrono::Duration::milliseconds(1)).format("%Y-%m-%d")
    );
    for body in [part(m, "text/plain"), part(m, "text/html")] {
        assert!(body.contains("10000.5 sat"), "{body}");
        assert!(body.contains(&invoice.number), "{body}");
        assert!(body.contains(&period), "{body}");
        assert!(
            body.contains(&paid_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_merchant_hears_when_a_webhook_endpoint_is_disabled() {
    let (server, app) = mailing_app().await;
    let api = app.api().await;
    messages::set_merchant_address(
        &app.db,
        app.now(),
        &api.merchant_id,
        Some("ops@bobflix.example"),
    )
    .await
    .unwrap();
    let receiver = Receiver::start().await;
    receiver.script([Answer::status(410)]);
    let r = api
        .post(
            "/v1/webhook_endpoints",
            json!({"url": receiver.url, "enabled_events": ["customer.created"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = api
        .post("/v1/customers", json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    // The 410 disables the endpoint; the next fan-out queues the email.
    app.deliver_webhooks().await;
    app.deliver_webhooks().await;
    drain(&app).await;
    let received = server.messages();
    let mail = with_subject(&received, "webhook endpoint was disabled");
    assert_eq!(mail.len(), 1, "{received:?}");
    assert_eq!(mail[0]["headers"]["to"], "ops@bobflix.example");
    let text = part(mail[0], "text/plain");
    assert!(
        text.contains(&receiver.url) && text.contains("410"),
        "{text}"
    );
    assert!(part(mail[0], "text/html").contains("410"));
    // Once only.
    app.deliver_webhooks().await;
    drain(&app).await;
    assert_eq!(with_subject(&server.messages(), "disabled").len(), 1);
}

/// A push the subscriber's node accepted (`invoice.pushed`, recorded by the
/// push queue as the node role does) sends the customer the payment request:
/// amount, period, the pushed BOLT11 and the pay link.
#[tokio::test]
async fn a_pushed_invoice_sends_the_customer_the_payment_request() {
    let pushed = Outcome::Pushed { status: "accepted" };
    payment_request_email_after(pushed, "invoice.pushed").await;
}

/// A push that could not be delivered (`invoice.push_failed`) sends the
/// same email: the customer pays by hand, from the email or the pay page.
#[tokio::test]
async fn a_failed_push_sends_the_customer_the_payment_request() {
    let unreachable = Outcome::NotDelivered {
        reason: "unreachable",
    };
    payment_request_email_after(unreachable, "invoice.push_failed").await;
}

/// A subscription's first invoice issued and its push ended with `outcome`
/// (one try allowed, so a failure is final at once), recorded as `event`.
async fn push_ends(
    outcome: Outcome,
    event: &str,
) -> (SmtpServer, TestApp, invoices::Model, Vec<queue::Claimed>) {
    let (server, app) = mailing_app().await;
    let merchant = app.merchant().await;
    let plan = odd_plan(&app, &merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.issue_pending(Duration::hours(2)).await;
    let claimed = queue::claim_due(
        &app.db,
        pushbill::domain::Rail::Push,
        app.now(),
        chrono::Utc::now(),
        Duration::minutes(1),
        10,
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1, "one push queued for the customer's node");
    queue::finish(
        &app.db,
        app.now(),
        &claimed[0],
        outcome,
        1,
        Duration::minutes(1),
    )
    .await
    .unwrap();
    assert!(
        app.event_types(&invoice.id)
            .await
            .contains(&event.to_owned())
    );
    (server, app, invoice, claimed)
}

async fn payment_request_email_after(outcome: Outcome, event: &str) {
    let (server, app, invoice, claimed) = push_ends(outcome, event).await;

    let done = drain(&app).await;
    assert_eq!(done.failed_attempts, 0);
    let received = server.messages();
    let requests: Vec<&Value> = received
        .iter()
        .filter(|m| m["rcpt_tos"] == json!(["alice@example.com"]))
        .filter(|m| part(m, "text/plain").contains(&invoice.number))
        .collect();
    assert_eq!(requests.len(), 1, "{received:#?}");
    assert_eq!(rows(&app, "payment_request").await.len(), 1);
    let bolt11 = claimed[0]
        .request
        .bolt11
        .clone()
        .expect("the pushed BOLT11");
    let m = requests[0];
    for body in [part(m, "text/plain"), part(m, "text/html")] {
        assert!(body.contains(&bolt11), "no BOLT11 in {body}");
        assert!(body.contains("10000.5 sat"), "no exact amount in {body}");
        assert!(
            body.contains(&format!("{}/pay/", app.context.settings.app.base_url)),
            "no pay link in {body}"
        );
    }
}

/// `invoice.push_failed` for an invoice the customer then paid (another way,
/// before the worker sent the mail) sends no "please pay" email: it is
/// withdrawn at send time, and only the receipt goes out.
#[tokio::test]
async fn no_payment_request_email_goes_out_for_an_invoice_paid_meanwhile() {
    let rejected = Outcome::Rejected {
        reason: "already_paid".into(),
    };
    let (server, app, invoice, _) = push_ends(rejected, "invoice.push_failed").await;
    app.pay(&invoice.id).await;

    let done = drain(&app).await;
    assert_eq!((done.sent, done.failed_attempts, done.withdrawn), (1, 0, 1));
    let withdrawn = rows(&app, "payment_request").await.remove(0);
    assert_eq!(withdrawn.status, OutgoingEmailStatus::Withdrawn.as_str());
    assert_eq!(withdrawn.last_error.as_deref(), Some("invoice_paid"));
    assert_eq!(withdrawn.attempt_count, 0);
    let receipt = rows(&app, "receipt").await.remove(0);
    assert_eq!(receipt.status, OutgoingEmailStatus::Sent.as_str());
    let received = server.messages();
    assert_eq!(received.len(), 1, "only the receipt: {received:#?}");
    let message_id = received[0]["headers"]["message-id"].as_str().unwrap();
    assert!(
        message_id.starts_with(&format!("<{}@", receipt.id)),
        "{message_id}"
    );
    assert_eq!(drain(&app).await, email::Drained::default());
}
