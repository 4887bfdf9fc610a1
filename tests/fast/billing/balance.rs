//! Every received msat is on an invoice or in the customer's balance: money
//! an invoice could not take is held as credit, and the next invoice takes it.

use chrono::Duration;
use pushbill::billing::pay_page;
use pushbill::billing::payments::{self, Settlement};
use pushbill::store::{events, pay_links};
use serde_json::json;

use crate::support::app::{Api, TestApp, sat, spawn_app};

/// A customer (with a node) and an issued one-off invoice of `amount_sat`.
async fn issued_invoice(app: &TestApp, api: &Api, customer: &str, amount_sat: u64) -> String {
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": amount_sat * 1000}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    app.issue_pending(Duration::hours(1)).await;
    r.id()
}

async fn live_hash(app: &TestApp, invoice: &str) -> String {
    app.payment_requests_of(invoice)
        .await
        .into_iter()
        .find(|r| r.status == "issued")
        .and_then(|r| r.payment_hash)
        .expect("an issued payment request")
}

async fn balance(api: &Api, customer: &str) -> i64 {
    let r = api.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body["balance_msat"].as_i64().expect("balance_msat")
}

/// The data of the events of `event_type` about `object_id`.
async fn event_data(app: &TestApp, object_id: &str, event_type: &str) -> Vec<serde_json::Value> {
    events::for_object(&app.db, object_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| e.data)
        .collect()
}

#[tokio::test]
async fn a_payment_for_an_invoice_voided_between_check_and_claim_goes_to_the_balance() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let invoice = issued_invoice(&app, &api, &customer, 1_000).await;
    let hash = live_hash(&app, &invoice).await;
    assert_eq!(
        payments::check_payment(&app.db, &hash, sat(1_000))
            .await
            .unwrap(),
        Ok(())
    );
    let r = api
        .post(&format!("/v1/invoices/{invoice}/void"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");

    // The node claimed the payment before the void: the money is here.
    let settled = payments::settle(&app.db, app.now(), &hash, sat(1_000))
        .await
        .unwrap();
    assert_eq!(
        settled,
        Settlement::RecordedOnly {
            invoice_id: invoice.clone()
        }
    );
    assert_eq!(app.invoice(&invoice).await.status, "void");
    assert_eq!(balance(&api, &customer).await, 1_000_000);
    let request = app.payment_requests_of(&invoice).await.remove(0);
    let unapplied = event_data(&app, &request.id, "payment.unapplied").await;
    assert_eq!(unapplied.len(), 1);
    assert_eq!(unapplied[0]["amount_unapplied_msat"], 1_000_000);
    assert_eq!(unapplied[0]["reason"], "invoice_void");
    assert_eq!(unapplied[0]["customer"], customer.as_str());
    let updated = event_data(&app, &customer, "customer.balance_updated").await;
    assert_eq!(updated.len(), 1);
    assert_eq!(updated[0]["balance_msat"], 1_000_000);

    // Settling the same payment again changes nothing.
    let again = payments::settle(&app.db, app.now(), &hash, sat(1_000))
        .await
        .unwrap();
    assert_eq!(again, Settlement::AlreadySettled);
    assert_eq!(balance(&api, &customer).await, 1_000_000);
}

#[tokio::test]
async fn an_overpayment_leaves_the_excess_in_the_balance() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let invoice = issued_invoice(&app, &api, &customer, 1_000).await;
    let hash = live_hash(&app, &invoice).await;
    let settled = payments::settle(&app.db, app.now(), &hash, sat(1_500))
        .await
        .unwrap();
    assert_eq!(
        settled,
        Settlement::InvoicePaid {
            invoice_id: invoice.clone()
        }
    );
    assert_eq!(app.invoice(&invoice).await.status, "paid");
    assert_eq!(balance(&api, &customer).await, 500_000);
    let request = app.payment_requests_of(&invoice).await.remove(0);
    let unapplied = event_data(&app, &request.id, "payment.unapplied").await;
    assert_eq!(unapplied.len(), 1);
    assert_eq!(unapplied[0]["amount_received_msat"], 1_500_000);
    assert_eq!(unapplied[0]["amount_unapplied_msat"], 500_000);
    assert_eq!(unapplied[0]["reason"], "overpayment");

    // Paying exactly leaves nothing over.
    let exact = issued_invoice(&app, &api, &customer, 2_000).await;
    let exact_request = app.payment_requests_of(&exact).await.remove(0);
    assert_eq!(
        exact_request.amount_msat, 1_500_000,
        "the credit was taken first"
    );
    let hash = live_hash(&app, &exact).await;
    payments::settle(&app.db, app.now(), &hash, sat(1_500))
        .await
        .unwrap();
    assert_eq!(balance(&api, &customer).await, 0);
    assert!(
        event_data(&app, &exact_request.id, "payment.unapplied")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn the_next_invoice_takes_the_balance_before_it_is_pushed() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let first = issued_invoice(&app, &api, &customer, 1_000).await;
    let hash = live_hash(&app, &first).await;
    payments::settle(&app.db, app.now(), &hash, sat(2_000))
        .await
        .unwrap();
    assert_eq!(balance(&api, &customer).await, 1_000_000);

    // Covered in full: paid at once from the balance, no payment request.
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 600_000}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "paid");
    assert_eq!(r.body["credit_applied_msat"], 600_000);
    assert_eq!(r.body["amount_due_msat"], 0);
    let covered = r.id();
    assert!(app.payment_requests_of(&covered).await.is_empty());
    assert_eq!(
        app.event_types(&covered).await,
        ["invoice.created", "invoice.paid"]
    );
    assert_eq!(balance(&api, &customer).await, 400_000);

    // Covered in part: the payment request asks for the rest.
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1_000_000}),
        )
        .await;
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["amount_due_msat"].as_i64()
        ),
        (Some("open"), Some(600_000))
    );
    let partly = r.id();
    let requests = app.payment_requests_of(&partly).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].amount_msat, 600_000);
    assert_eq!(balance(&api, &customer).await, 0);
    let balances: Vec<i64> = event_data(&app, &customer, "customer.balance_updated")
        .await
        .iter()
        .map(|d| d["balance_msat"].as_i64().unwrap())
        .collect();
    assert_eq!(balances, [1_000_000, 400_000, 0]);
    // The pay page tells the customer what is left to pay, as the BOLT11 asks.
    let token = pay_links::token_for(&app.db, app.now(), &app.invoice(&partly).await)
        .await
        .unwrap();
    let page = app
        .http
        .get(format!("{}/pay/{token}", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"id="amount">1000 sat<"#), "{page}");
    assert!(page.contains(r#"id="credit">400 sat<"#), "{page}");
    assert!(page.contains(r#"id="amount-due">600 sat<"#), "{page}");
    assert_eq!(
        app.pay(&partly).await,
        Settlement::InvoicePaid {
            invoice_id: partly.clone()
        }
    );

    // The books balance: the 2,600 sat received are on the three invoices.
    let mut on_invoices = 0;
    for id in [&first, &covered, &partly] {
        let inv = app.invoice(id).await;
        assert_eq!(inv.status, "paid");
        on_invoices += inv.amount_msat;
    }
    assert_eq!(on_invoices + balance(&api, &customer).await, 2_600_000);
}

#[tokio::test]
async fn a_payment_for_an_invoice_paid_meanwhile_through_another_request_goes_to_the_balance() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let invoice = issued_invoice(&app, &api, &customer, 1_000).await;
    let first = live_hash(&app, &invoice).await;
    assert_eq!(
        payments::check_payment(&app.db, &first, sat(1_000))
            .await
            .unwrap(),
        Ok(())
    );
    // The first BOLT11 expires; the customer asks the pay page for a fresh
    // one and pays that, while the first payment is still being claimed.
    app.advance(Duration::hours(2)).await;
    let model = app.invoice(&invoice).await;
    let token = pay_links::token_for(&app.db, app.now(), &model)
        .await
        .unwrap();
    pay_page::request_fresh(&app.db, app.now(), &token)
        .await
        .unwrap()
        .expect("a known token");
    assert_eq!(
        app.pay(&invoice).await,
        Settlement::InvoicePaid {
            invoice_id: invoice.clone()
        }
    );

    let late = payments::settle(&app.db, app.now(), &first, sat(1_000))
        .await
        .unwrap();
    assert_eq!(
        late,
        Settlement::RecordedOnly {
            invoice_id: invoice.clone()
        }
    );
    assert_eq!(balance(&api, &customer).await, 1_000_000);
    let request = app.payment_requests_of(&invoice).await.remove(0);
    assert_eq!(request.payment_hash.as_deref(), Some(first.as_str()));
    let unapplied = event_data(&app, &request.id, "payment.unapplied").await;
    assert_eq!(unapplied.len(), 1);
    assert_eq!(unapplied[0]["reason"], "invoice_paid");
}
