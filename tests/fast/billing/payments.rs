use chrono::Duration;
use pushbill::billing::payments::{self, PaymentRejection, Settlement};
use pushbill::billing::{invoicing, lifecycle};
use pushbill::domain::Msat;
use pushbill::error::Error;
use pushbill::store::{invoices, merchants};

use crate::support::app::{TestApp, sat, spawn_app};

#[tokio::test]
async fn a_one_off_invoice_goes_through_the_same_payment_path() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let customer = app.customer(&merchant).await;
    let invoice = invoicing::create_one_off(
        &app.db,
        app.now(),
        &merchant.id,
        &customer.id,
        sat(2_100),
        Some("Lunch".into()),
        Duration::hours(4),
    )
    .await
    .unwrap();
    assert_eq!(invoice.subscription_id, None);
    assert_eq!(invoice.number, "BOB-000001");
    assert_eq!(invoice.due_at, app.now() + Duration::hours(4));
    let requests = app.payment_requests_of(&invoice.id).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, "pending");
    assert!(requests[0].push, "the customer has a node, so it is pushed");

    assert_eq!(
        app.pay(&invoice.id).await,
        Settlement::InvoicePaid {
            invoice_id: invoice.id.clone()
        }
    );
    assert_eq!(app.invoice(&invoice.id).await.status, "paid");
    assert_eq!(
        app.event_types(&invoice.id).await,
        ["invoice.created", "invoice.paid"]
    );

    let zero = invoicing::create_one_off(
        &app.db,
        app.now(),
        &merchant.id,
        &customer.id,
        Msat::ZERO,
        None,
        Duration::hours(1),
    )
    .await;
    assert!(matches!(zero, Err(Error::Invalid { param, .. }) if param == "amount_msat"));
}

#[tokio::test]
async fn payments_are_checked_before_claiming_and_settled_once() {
    let (app, _merchant, invoice) = issued_one_off_invoice().await;
    let req = app.payment_requests_of(&invoice.id).await.remove(0);
    let hash = req.payment_hash.clone().unwrap();
    assert!(req.bolt11.is_some());

    let unknown = "00".repeat(32);
    assert_eq!(
        payments::check_payment(&app.db, &unknown, sat(1_000))
            .await
            .unwrap(),
        Err(PaymentRejection::UnknownPaymentHash)
    );
    assert_eq!(
        payments::check_payment(&app.db, &hash, Msat::from_msat(999_999).unwrap())
            .await
            .unwrap(),
        Err(PaymentRejection::AmountTooSmall {
            expected: 1_000_000,
            received: 999_999
        })
    );
    assert_eq!(
        payments::check_payment(&app.db, &hash, sat(1_000))
            .await
            .unwrap(),
        Ok(())
    );

    let first = payments::settle(&app.db, app.now(), &hash, sat(1_000))
        .await
        .unwrap();
    assert_eq!(
        first,
        Settlement::InvoicePaid {
            invoice_id: invoice.id.clone()
        }
    );
    let second = payments::settle(&app.db, app.now(), &hash, sat(1_000))
        .await
        .unwrap();
    assert_eq!(second, Settlement::AlreadySettled);
    assert_eq!(
        payments::check_payment(&app.db, &hash, sat(1_000))
            .await
            .unwrap(),
        Err(PaymentRejection::AlreadyPaid)
    );
    let paid_events = app
        .event_types(&invoice.id)
        .await
        .iter()
        .filter(|t| *t == "invoice.paid")
        .count();
    assert_eq!(paid_events, 1);
}

#[tokio::test]
async fn a_voided_invoice_cannot_be_paid() {
    let (app, merchant, invoice) = issued_one_off_invoice().await;
    let hash = app
        .payment_requests_of(&invoice.id)
        .await
        .remove(0)
        .payment_hash
        .unwrap();

    let voided = lifecycle::void(&app.db, app.now(), &merchant.id, &invoice.id)
        .await
        .unwrap();
    assert_eq!(voided.status, "void");
    assert_eq!(
        payments::check_payment(&app.db, &hash, sat(1_000))
            .await
            .unwrap(),
        Err(PaymentRejection::RequestNotLive("canceled".into()))
    );
    let again = lifecycle::void(&app.db, app.now(), &merchant.id, &invoice.id).await;
    assert!(matches!(
        again,
        Err(Error::Conflict {
            code: "invoice_not_voidable",
            ..
        })
    ));
    // Dunning leaves a void invoice alone.
    app.advance(Duration::days(30)).await;
    assert_eq!(
        app.event_types(&invoice.id).await,
        ["invoice.created", "invoice.voided"]
    );
}

/// A 1,000 sat one-off invoice whose payment request the node has issued.
async fn issued_one_off_invoice() -> (TestApp, merchants::Model, invoices::Model) {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let customer = app.customer(&merchant).await;
    let invoice = invoicing::create_one_off(
        &app.db,
        app.now(),
        &merchant.id,
        &customer.id,
        sat(1_000),
        None,
        Duration::hours(1),
    )
    .await
    .unwrap();
    app.issue_pending(Duration::hours(1)).await;
    (app, merchant, invoice)
}

/// Fails every request: `permanent` as LDK refuses an amount no BOLT11 can
/// carry, or else a passing failure.
struct FailingIssuer {
    permanent: bool,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl payments::InvoiceIssuer for FailingIssuer {
    async fn issue(
        &self,
        _: &payments::IssueRequest,
    ) -> Result<payments::IssuedInvoice, payments::IssueError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(if self.permanent {
            payments::IssueError::permanent("cannot create the invoice: InvalidAmount")
        } else {
            payments::IssueError::transient("cannot sign the invoice")
        })
    }
}

#[tokio::test]
async fn a_request_the_node_can_never_issue_fails_with_an_event_and_a_passing_failure_is_retried() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let customer = app.customer(&merchant).await;
    let invoice = invoicing::create_one_off(
        &app.db,
        app.now(),
        &merchant.id,
        &customer.id,
        sat(2_100),
        None,
        Duration::hours(4),
    )
    .await
    .unwrap();
    async fn issue_with(app: &TestApp, issuer: &FailingIssuer) -> usize {
        payments::issue_pending(&app.db, issuer, app.now(), Duration::hours(1), 100)
            .await
            .unwrap()
    }
    let passing = FailingIssuer {
        permanent: false,
        calls: Default::default(),
    };
    assert_eq!(issue_with(&app, &passing).await, 0);
    assert_eq!(issue_with(&app, &passing).await, 0);
    assert_eq!(passing.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    let requests = app.payment_requests_of(&invoice.id).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, "pending");
    assert!(app.event_types(&requests[0].id).await.is_empty());

    let never = FailingIssuer {
        permanent: true,
        calls: Default::default(),
    };
    assert_eq!(issue_with(&app, &never).await, 0);
    // Failed for good: not asked again.
    assert_eq!(issue_with(&app, &never).await, 0);
    assert_eq!(never.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let requests = app.payment_requests_of(&invoice.id).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].status, "failed");
    assert_eq!(
        requests[0].failure_reason.as_deref(),
        Some("cannot create the invoice: InvalidAmount")
    );
    assert_eq!(
        app.event_types(&requests[0].id).await,
        ["payment_request.failed"]
    );
    assert_eq!(app.invoice(&invoice.id).await.status, "open");
}

#[tokio::test]
async fn an_amount_no_bolt11_can_carry_is_refused() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let customer = app.customer(&merchant).await;
    let one_off = |amount: Msat| {
        invoicing::create_one_off(
            &app.db,
            app.now(),
            &merchant.id,
            &customer.id,
            amount,
            None,
            Duration::hours(1),
        )
    };
    let above = Msat::from_msat(Msat::MAX_INVOICE.as_u64() + 1).unwrap();
    for amount in [above, Msat::MAX] {
        let r = one_off(amount).await;
        assert!(
            matches!(&r, Err(Error::Invalid { param, .. }) if param == "amount_msat"),
            "{r:?}"
        );
    }
    one_off(Msat::MAX_INVOICE).await.unwrap();
}

#[tokio::test]
async fn the_bolt11_description_names_the_last_day_of_the_period() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    app.subscribe(&merchant, &customer, &plan, None).await;
    let issuer = crate::support::app::RecordingIssuer::new(&app);
    payments::issue_pending(&app.db, &issuer, app.now(), Duration::hours(1), 10)
        .await
        .unwrap();
    let asked = issuer.asked.lock().unwrap();
    assert_eq!(asked.len(), 1);
    // The period is [1 Dec, 1 Jan): its last day is 31 December.
    assert_eq!(
        asked[0].description,
        "Bobflix - Monthly - 2027-12-01 to 2027-12-31"
    );
}
