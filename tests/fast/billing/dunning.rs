use chrono::Duration;
use pushbill::billing::lifecycle;
use pushbill::catalog::plans::NewPlan;
use pushbill::domain::{GraceAction, Interval, Schedule};
use pushbill::store::{merchants, plans, push_attempts};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::app::{TestApp, at, sat, spawn_app, t0};

async fn count_failed(app: &TestApp, invoice_id: &str) -> usize {
    app.event_types(invoice_id)
        .await
        .iter()
        .filter(|t| *t == "invoice.payment_failed")
        .count()
}

/// Default dunning: due after 1 day, retries at +1 h, +6 h, +1 d, +3 d, grace
/// of 7 days, then `unpaid`. Each step's effects and events, in order; an
/// unpaid subscription stops billing and paying it brings it back to its cycle.
#[tokio::test]
async fn an_unpaid_invoice_walks_past_due_retries_and_unpaid_then_recovers() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    assert_eq!(invoice.due_at, t0() + Duration::days(1));
    // The node issues the BOLT11 with a 2-hour expiry; it is pushed, not paid.
    assert_eq!(app.issue_pending(Duration::hours(2)).await, 1);
    let pushes = push_attempts::Entity::find().count(&app.db).await.unwrap();
    assert_eq!(pushes, 1, "the first payment request is queued for a push");

    // Due: the first attempt failed, the subscription is past due.
    app.advance_to(invoice.due_at).await;
    assert_eq!(app.subscription(&sub.id).await.status, "past_due");
    assert_eq!(count_failed(&app, &invoice.id).await, 1);
    assert_eq!(
        app.event_types(&sub.id).await,
        ["subscription.created", "subscription.past_due"]
    );

    // First retry (+1 h): the BOLT11 expired, so a fresh payment request is made.
    app.advance(Duration::hours(1)).await;
    let requests = app.payment_requests_of(&invoice.id).await;
    assert_eq!(
        requests
            .iter()
            .map(|r| r.status.as_str())
            .collect::<Vec<_>>(),
        ["expired", "pending"]
    );
    assert_eq!(app.invoice(&invoice.id).await.attempt_count, 2);
    assert_eq!(count_failed(&app, &invoice.id).await, 1);
    app.issue_pending(Duration::days(30)).await;

    // Second retry (+6 h): the live request is still valid, so it is pushed again.
    app.advance(Duration::hours(5)).await;
    assert_eq!(app.payment_requests_of(&invoice.id).await.len(), 2);
    let pushes = push_attempts::Entity::find()
        .filter(push_attempts::Column::Status.eq("queued"))
        .count(&app.db)
        .await
        .unwrap();
    assert_eq!(pushes, 3);
    assert_eq!(count_failed(&app, &invoice.id).await, 2);

    // Third and fourth retries, then the grace period ends.
    app.advance_to(invoice.due_at + Duration::days(7) - Duration::seconds(1))
        .await;
    assert_eq!(app.subscription(&sub.id).await.status, "past_due");
    assert_eq!(count_failed(&app, &invoice.id).await, 4);
    assert_eq!(app.invoice(&invoice.id).await.attempt_count, 5);
    app.advance(Duration::seconds(1)).await;
    assert_eq!(app.subscription(&sub.id).await.status, "unpaid");
    assert_eq!(count_failed(&app, &invoice.id).await, 5);
    let types = app.event_types(&invoice.id).await;
    assert_eq!(types.first().unwrap(), "invoice.created");
    assert_eq!(types.last().unwrap(), "invoice.unpaid");
    let invoice_now = app.invoice(&invoice.id).await;
    assert_eq!(
        invoice_now.status, "open",
        "an unpaid subscription's invoice stays payable"
    );
    assert_eq!(invoice_now.next_dunning_at, None);
    // Unpaid: the January period is not billed.
    app.advance_to(at("2028-01-20T00:00:00Z")).await;
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);

    // Paying late reactivates it in its cycle: a period from now to the
    // cycle's next boundary (the skipped days are not billed).
    app.pay(&invoice.id).await;
    let sub_now = app.subscription(&sub.id).await;
    assert_eq!(sub_now.status, "active");
    assert_eq!(sub_now.current_period_start, at("2028-01-20T00:00:00Z"));
    assert_eq!(sub_now.current_period_end, at("2028-02-01T00:00:00Z"));
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1].period_start, Some(at("2028-01-20T00:00:00Z")));
    assert_eq!(invoices[1].period_end, Some(at("2028-02-01T00:00:00Z")));
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.past_due",
            "subscription.unpaid",
            "subscription.updated"
        ]
    );
}

#[tokio::test]
async fn paying_a_past_due_invoice_makes_the_subscription_active_again() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.advance(Duration::days(2)).await;
    assert_eq!(app.subscription(&sub.id).await.status, "past_due");
    let failed_before = count_failed(&app, &invoice.id).await;
    assert_eq!(
        failed_before, 3,
        "due, then retries at +1 h (a re-try), +6 h and +1 d"
    );

    app.pay(&invoice.id).await;
    let sub_now = app.subscription(&sub.id).await;
    assert_eq!(sub_now.status, "active");
    assert_eq!(
        sub_now.current_period_end,
        at("2028-01-01T00:00:00Z"),
        "the period is unchanged"
    );
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.past_due",
            "subscription.updated"
        ]
    );
    let paid = app.invoice(&invoice.id).await;
    assert_eq!(paid.status, "paid");
    assert_eq!(paid.next_dunning_at, None);
    // Dunning is over for it: nothing more happens to the invoice.
    app.advance(Duration::days(20)).await;
    assert_eq!(count_failed(&app, &invoice.id).await, failed_before);
    assert_eq!(app.subscription(&sub.id).await.status, "active");
}

/// A weekly plan that cancels on nonpayment: one retry after 12 hours, two
/// days of grace.
async fn strict_plan(app: &TestApp, merchant: &merchants::Model) -> plans::Model {
    let mut plan = NewPlan::new(
        "Strict",
        sat(1_000),
        Schedule::every(Interval::Week, 1).unwrap(),
    );
    plan.dunning.retries = vec![Duration::hours(12)];
    plan.dunning.grace = Duration::days(2);
    plan.dunning.grace_action = GraceAction::Cancel;
    app.plan(merchant, plan).await
}

#[tokio::test]
async fn a_plan_that_cancels_on_nonpayment_writes_the_invoice_off() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = strict_plan(&app, &merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);

    app.advance_to(invoice.due_at + Duration::days(2)).await;
    let sub_now = app.subscription(&sub.id).await;
    assert_eq!(sub_now.status, "canceled");
    assert_eq!(sub_now.cancellation_reason.as_deref(), Some("nonpayment"));
    let invoice_now = app.invoice(&invoice.id).await;
    assert_eq!(invoice_now.status, "uncollectible");
    assert!(
        app.payment_requests_of(&invoice.id)
            .await
            .iter()
            .all(|r| r.status == "canceled")
    );
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.past_due",
            "subscription.canceled"
        ]
    );
    // Canceled: no more weekly invoices.
    app.advance(Duration::days(30)).await;
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);
}

#[tokio::test]
async fn pausing_does_not_escape_a_plan_that_cancels_on_nonpayment() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = strict_plan(&app, &merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);

    app.advance_to(invoice.due_at + Duration::hours(1)).await;
    assert_eq!(app.subscription(&sub.id).await.status, "past_due");
    lifecycle::pause(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    app.advance_to(invoice.due_at + Duration::days(2)).await;

    let sub_now = app.subscription(&sub.id).await;
    assert_eq!(sub_now.status, "canceled");
    assert_eq!(sub_now.cancellation_reason.as_deref(), Some("nonpayment"));
    assert_eq!(app.invoice(&invoice.id).await.status, "uncollectible");
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.past_due",
            "subscription.paused",
            "subscription.canceled"
        ]
    );
    // Nothing left to resume.
    assert!(
        lifecycle::resume(&app.db, app.now(), &merchant.id, &sub.id)
            .await
            .is_err()
    );
}
