//! Subscriptions coming back from unpaid or paused: no day is billed twice,
//! cancel at period end is kept, and what is owed stays owed.

use chrono::{DateTime, Duration, Utc};
use pushbill::billing::lifecycle;
use pushbill::store::invoices;

use crate::support::app::{TestApp, at, spawn_app};

/// No instant is covered by two invoices of one subscription.
fn assert_no_overlap(invoices: &[invoices::Model]) {
    let mut periods: Vec<(DateTime<Utc>, DateTime<Utc>)> = invoices
        .iter()
        .map(|i| (i.period_start.unwrap(), i.period_end.unwrap()))
        .collect();
    periods.sort();
    for pair in periods.windows(2) {
        assert!(pair[0].1 <= pair[1].0, "overlapping periods: {periods:?}");
    }
}

async fn status(app: &TestApp, id: &str) -> String {
    app.subscription(id).await.status
}

#[tokio::test]
async fn paying_an_unpaid_subscription_before_its_period_ends_bills_no_day_twice() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.advance_to(at("2027-12-10T00:00:00Z")).await;
    assert_eq!(status(&app, &sub.id).await, "unpaid");

    app.pay_all_open().await;
    let back = app.subscription(&sub.id).await;
    assert_eq!(back.status, "active");
    assert_eq!(back.current_period_start, at("2027-12-01T00:00:00Z"));
    assert_eq!(back.current_period_end, at("2028-01-01T00:00:00Z"));
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1, "no second invoice");

    app.advance_to(at("2028-01-01T00:00:00Z")).await;
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1].period_start, Some(at("2028-01-01T00:00:00Z")));
    assert_no_overlap(&invoices);
}

#[tokio::test]
async fn paying_an_unpaid_subscription_after_its_period_returns_it_to_its_cycle() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.advance_to(at("2028-02-10T12:00:00Z")).await;
    assert_eq!(status(&app, &sub.id).await, "unpaid");

    app.pay_all_open().await;
    // January and 1-10 February are skipped, not billed; the cycle (the 1st) stays.
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1].period_start, Some(at("2028-02-10T12:00:00Z")));
    assert_eq!(invoices[1].period_end, Some(at("2028-03-01T00:00:00Z")));
    app.pay_all_open().await;
    app.advance_to(at("2028-03-01T00:00:00Z")).await;
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 3);
    assert_eq!(invoices[2].period_end, Some(at("2028-04-01T00:00:00Z")));
    assert_no_overlap(&invoices);
}

/// A paused subscription set to cancel at period end ends there by itself:
/// it need not be resumed first, and cannot be resumed afterwards.
#[tokio::test]
async fn cancel_at_period_end_ends_a_paused_subscription_at_its_period_end() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.pay_all_open().await;
    app.advance(Duration::days(10)).await;
    lifecycle::cancel(&app.db, app.now(), &merchant.id, &sub.id, true)
        .await
        .unwrap();
    lifecycle::pause(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    app.advance_to(at("2028-01-15T00:00:00Z")).await;

    let ended = app.subscription(&sub.id).await;
    assert_eq!(ended.status, "canceled");
    assert_eq!(ended.ended_at, Some(at("2028-01-01T00:00:00Z")));
    assert!(
        lifecycle::resume(&app.db, app.now(), &merchant.id, &sub.id)
            .await
            .is_err()
    );
    app.advance(Duration::days(60)).await;
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1, "no new invoice");
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.updated",
            "subscription.paused",
            "subscription.canceled"
        ]
    );
}

/// An unpaid subscription set to cancel at period end ends there; its
/// overdue invoice stays owed and can still be paid, which bills nothing new.
#[tokio::test]
async fn cancel_at_period_end_ends_an_unpaid_subscription_whose_debt_can_still_be_paid() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.advance(Duration::days(4)).await;
    lifecycle::cancel(&app.db, app.now(), &merchant.id, &sub.id, true)
        .await
        .unwrap();
    app.advance_to(at("2027-12-20T00:00:00Z")).await;
    assert_eq!(status(&app, &sub.id).await, "unpaid");
    app.advance_to(at("2028-01-15T00:00:00Z")).await;
    let ended = app.subscription(&sub.id).await;
    assert_eq!(ended.status, "canceled");
    assert_eq!(ended.ended_at, Some(at("2028-01-01T00:00:00Z")));
    let owed = app.invoices_of(&sub.id).await.remove(0);
    assert_eq!(owed.status, "open");

    app.pay_all_open().await;
    assert_eq!(app.invoice(&owed.id).await.status, "paid");
    assert_eq!(status(&app, &sub.id).await, "canceled");
    app.advance(Duration::days(60)).await;
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1, "no new invoice");
    assert_eq!(
        app.event_types(&sub.id).await.last().map(String::as_str),
        Some("subscription.canceled")
    );
}

#[tokio::test]
async fn pause_and_resume_keep_a_past_due_subscription_past_due_and_grace_still_applies() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.advance_to(at("2027-12-03T00:00:00Z")).await;
    assert_eq!(status(&app, &sub.id).await, "past_due");

    lifecycle::pause(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    let resumed = lifecycle::resume(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    assert_eq!(resumed.status, "past_due");
    // The grace period (7 days after the due time) still ends in unpaid.
    app.advance_to(at("2027-12-09T00:00:00Z")).await;
    assert_eq!(status(&app, &sub.id).await, "unpaid");
}

#[tokio::test]
async fn a_subscription_whose_grace_ended_while_paused_resumes_unpaid() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    lifecycle::pause(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    // Overdue on 2 December while paused; its grace ends on the 9th.
    app.advance_to(at("2027-12-20T00:00:00Z")).await;
    assert_eq!(status(&app, &sub.id).await, "paused");

    let resumed = lifecycle::resume(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    assert_eq!(resumed.status, "unpaid");
    app.advance_to(at("2028-02-01T00:00:00Z")).await;
    assert_eq!(
        app.invoices_of(&sub.id).await.len(),
        1,
        "unpaid bills nothing"
    );
}

/// Found by the model test: a subscription paused in its trial and resumed
/// before the trial ends goes back to its trial (not `active` with nothing
/// invoiced), gets the trial-ending notice the pause dropped, and is
/// invoiced when the trial ends.
#[tokio::test]
async fn a_subscription_paused_in_its_trial_resumes_into_the_rest_of_it() {
    use crate::support::app::t0;

    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.trial_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let trial_end = t0() + Duration::days(14);

    app.advance(Duration::days(2)).await;
    lifecycle::pause(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    app.advance(Duration::days(3)).await;
    let resumed = lifecycle::resume(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    assert_eq!(resumed.status, "trialing");
    assert_eq!(resumed.current_period_end, trial_end);
    assert_eq!(resumed.trial_notice_at, Some(trial_end - Duration::days(3)));
    assert!(app.invoices_of(&sub.id).await.is_empty());

    app.advance_to(trial_end - Duration::days(3)).await;
    let events = app.event_types(&sub.id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "subscription.trial_will_end")
            .count(),
        1,
        "{events:?}"
    );
    app.advance_to(trial_end).await;
    assert_eq!(status(&app, &sub.id).await, "active");
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].period_start, Some(trial_end));
}

/// Found by the model test: voiding the invoice that made a subscription
/// past_due or unpaid returns it to its cycle, as paying it would (it was
/// stranded with nothing left to pay).
#[tokio::test]
async fn voiding_the_overdue_invoice_returns_the_subscription_to_its_cycle() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let past_due = app.subscribe(&merchant, &customer, &plan, None).await;
    let unpaid = app.subscribe(&merchant, &customer, &plan, None).await;
    let void_first_invoice = async |sub: &str| {
        let invoice = app.invoices_of(sub).await.remove(0);
        lifecycle::void(&app.db, app.now(), &merchant.id, &invoice.id)
            .await
            .unwrap();
        let back = app.subscription(sub).await;
        assert_eq!(back.status, "active", "{sub}");
        // Its period carries on: the next invoice is the next period's.
        assert_eq!(back.current_period_end, at("2028-01-01T00:00:00Z"));
    };
    app.advance_to(at("2027-12-03T00:00:00Z")).await;
    assert_eq!(status(&app, &past_due.id).await, "past_due");
    void_first_invoice(&past_due.id).await;
    app.advance_to(at("2027-12-10T00:00:00Z")).await;
    assert_eq!(status(&app, &unpaid.id).await, "unpaid");
    void_first_invoice(&unpaid.id).await;
    assert_eq!(status(&app, &past_due.id).await, "active");
    app.advance_to(at("2028-01-01T00:00:00Z")).await;
    for sub in [&past_due, &unpaid] {
        let invoices = app.invoices_of(&sub.id).await;
        assert_eq!(invoices.len(), 2);
        assert_eq!(invoices[1].period_start, Some(at("2028-01-01T00:00:00Z")));
        assert_no_overlap(&invoices);
    }
}
