//! One subscription's error never stops the others: a cron plan that fires
//! no more ends its subscriptions, and a row the engine cannot bill is
//! recorded against itself while every other merchant keeps rolling.

use chrono::Duration;
use pushbill::billing::lifecycle;
use pushbill::catalog::plans::NewPlan;
use pushbill::domain::Schedule;
use pushbill::store::plans;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::support::app::{TestApp, at, sat, spawn_app};

/// A cron plan that fires once, on 1 January 2028 (the clock starts on 1 December 2027).
async fn one_shot_plan(
    app: &TestApp,
    merchant: &pushbill::store::merchants::Model,
) -> plans::Model {
    let schedule = Schedule::cron("0 0 0 1 1 * 2028").unwrap();
    app.plan(
        merchant,
        NewPlan::new("Launch season", sat(2_000), schedule),
    )
    .await
}

/// Hand-edits a plan so its stored rules cannot be read (a bug or a bad edit).
async fn corrupt(app: &TestApp, plan: &plans::Model) {
    plans::Entity::update_many()
        .col_expr(plans::Column::IntervalUnit, Expr::value("eon"))
        .filter(plans::Column::Id.eq(&plan.id))
        .exec(&app.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cron_plan_that_fires_no_more_ends_its_subscription_and_others_keep_billing() {
    let app = spawn_app().await;
    let alice = app.merchant().await;
    let one_shot = one_shot_plan(&app, &alice).await;
    let customer = app.customer(&alice).await;
    let ending = app.subscribe(&alice, &customer, &one_shot, None).await;
    assert_eq!(ending.current_period_end, at("2028-01-01T00:00:00Z"));

    let bob = app.merchant().await;
    let monthly = app.monthly_plan(&bob).await;
    let bob_customer = app.customer(&bob).await;
    let rolling = app.subscribe(&bob, &bob_customer, &monthly, None).await;
    app.pay_all_open().await;
    app.advance_to(at("2028-01-01T00:00:00Z")).await;
    app.pay_all_open().await;
    let dunned = app.subscribe(&bob, &bob_customer, &monthly, None).await;

    app.advance_to(at("2028-02-15T00:00:00Z")).await;

    let ended = app.subscription(&ending.id).await;
    assert_eq!(ended.status, "canceled");
    assert_eq!(ended.ended_at, Some(at("2028-01-01T00:00:00Z")));
    assert_eq!(ended.cancellation_reason.as_deref(), Some("schedule_ended"));
    assert_eq!(ended.next_roll_at, None);
    assert_eq!(app.invoices_of(&ending.id).await.len(), 1);
    assert_eq!(
        app.event_types(&ending.id).await,
        ["subscription.created", "subscription.canceled"]
    );
    // The other merchant's subscriptions kept rolling, and dunning ran.
    assert_eq!(app.invoices_of(&rolling.id).await.len(), 3);
    assert_eq!(app.subscription(&dunned.id).await.status, "unpaid");

    // A subscription cannot start on it any more: a 400 naming the plan.
    let late = lifecycle::create(
        &app.db,
        app.now(),
        &alice.id,
        lifecycle::NewSubscription {
            customer_id: customer.id.clone(),
            plan_id: one_shot.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(
        matches!(&late, Err(pushbill::error::Error::Invalid { param, .. }) if param == "plan"),
        "{late:?}"
    );
}

#[tokio::test]
async fn paying_an_unpaid_subscription_whose_cron_plan_fired_its_last_ends_it() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let one_shot = one_shot_plan(&app, &merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &one_shot, None).await;
    app.advance_to(at("2027-12-20T00:00:00Z")).await;
    assert_eq!(app.subscription(&sub.id).await.status, "unpaid");

    app.advance_to(at("2028-01-10T00:00:00Z")).await;
    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.pay(&invoice.id).await;
    assert_eq!(app.invoice(&invoice.id).await.status, "paid");
    let ended = app.subscription(&sub.id).await;
    assert_eq!(ended.status, "canceled");
    assert_eq!(ended.ended_at, Some(at("2028-01-01T00:00:00Z")));
    assert_eq!(ended.cancellation_reason.as_deref(), Some("schedule_ended"));
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);
    assert_eq!(
        app.event_types(&sub.id).await.last().map(String::as_str),
        Some("subscription.canceled")
    );
}

#[tokio::test]
async fn a_subscription_that_cannot_be_billed_is_recorded_and_leaves_the_queue() {
    let app = spawn_app().await;
    let alice = app.merchant().await;
    let broken_plan = app.monthly_plan(&alice).await;
    let customer = app.customer(&alice).await;
    let broken = app.subscribe(&alice, &customer, &broken_plan, None).await;
    let bob = app.merchant().await;
    let monthly = app.monthly_plan(&bob).await;
    let bob_customer = app.customer(&bob).await;
    let rolling = app.subscribe(&bob, &bob_customer, &monthly, None).await;
    app.pay_all_open().await;
    let dunned = app.subscribe(&bob, &bob_customer, &monthly, None).await;
    corrupt(&app, &broken_plan).await;

    app.advance_to(at("2028-01-01T00:00:00Z")).await;
    let failed = app.subscription(&broken.id).await;
    assert_eq!(failed.status, "active");
    assert!(
        failed
            .billing_error
            .as_deref()
            .is_some_and(|e| e.contains("unknown interval unit `eon`")),
        "{failed:?}"
    );
    assert_eq!(failed.next_roll_at, None, "out of the queue");
    assert_eq!(app.invoices_of(&broken.id).await.len(), 1);
    assert_eq!(
        app.event_types(&broken.id).await,
        ["subscription.created", "subscription.billing_failed"]
    );
    // The other merchant's subscriptions kept rolling, and dunning ran.
    assert_eq!(app.invoices_of(&rolling.id).await.len(), 2);
    assert_eq!(app.subscription(&dunned.id).await.status, "unpaid");
    app.advance_to(at("2028-02-15T00:00:00Z")).await;
    assert_eq!(
        app.event_types(&broken.id).await.len(),
        2,
        "recorded once, not on every run"
    );

    // The merchant moves it to a plan that works: the error is cleared and
    // billing resumes from where it stopped.
    let fixed_plan = app.monthly_plan(&alice).await;
    let changed = lifecycle::change_plan(&app.db, app.now(), &alice.id, &broken.id, &fixed_plan.id)
        .await
        .unwrap();
    assert_eq!(changed.billing_error, None);
    app.run_billing().await;
    let invoices = app.invoices_of(&broken.id).await;
    assert_eq!(invoices.len(), 3, "January and February, caught up");
    assert_eq!(invoices[1].period_start, Some(at("2028-01-01T00:00:00Z")));
    assert_eq!(invoices[1].plan_id, Some(fixed_plan.id));
}

#[tokio::test]
async fn a_payment_is_recorded_even_when_its_subscription_cannot_be_brought_back() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.advance(Duration::days(10)).await;
    assert_eq!(app.subscription(&sub.id).await.status, "unpaid");
    corrupt(&app, &plan).await;
    app.advance_to(at("2028-01-10T00:00:00Z")).await;

    let invoice = app.invoices_of(&sub.id).await.remove(0);
    app.pay(&invoice.id).await;
    assert_eq!(app.invoice(&invoice.id).await.status, "paid");
    assert_eq!(
        app.event_types(&invoice.id)
            .await
            .last()
            .map(String::as_str),
        Some("invoice.paid")
    );
    let failed = app.subscription(&sub.id).await;
    assert_eq!(failed.status, "unpaid", "its change was rolled back");
    assert!(failed.billing_error.is_some());
    assert_eq!(
        app.event_types(&sub.id).await.last().map(String::as_str),
        Some("subscription.billing_failed")
    );
}
