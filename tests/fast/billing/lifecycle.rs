use chrono::Duration;
use pushbill::billing::lifecycle::{self, NewSubscription};
use pushbill::catalog::plans::NewPlan;
use pushbill::domain::{Interval, Schedule};
use pushbill::error::Error;

use crate::support::app::{at, sat, spawn_app, t0};

#[tokio::test]
async fn a_trial_bills_nothing_then_activates_and_invoices_at_its_end() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.trial_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    assert_eq!(sub.status, "trialing");
    assert_eq!(sub.trial_end, Some(t0() + Duration::days(14)));
    assert!(app.invoices_of(&sub.id).await.is_empty());

    // Three days before the trial ends, the notice (once).
    app.advance(Duration::days(11) - Duration::seconds(1)).await;
    assert_eq!(app.event_types(&sub.id).await, ["subscription.created"]);
    app.advance(Duration::seconds(1)).await;
    assert_eq!(
        app.event_types(&sub.id).await,
        ["subscription.created", "subscription.trial_will_end"]
    );
    app.advance(Duration::days(2)).await;
    assert_eq!(app.subscription(&sub.id).await.status, "trialing");
    assert!(app.invoices_of(&sub.id).await.is_empty());

    app.advance(Duration::days(1)).await;
    let sub_now = app.subscription(&sub.id).await;
    assert_eq!(sub_now.status, "active");
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].period_start, Some(at("2027-12-15T00:00:00Z")));
    assert_eq!(invoices[0].period_end, Some(at("2028-01-15T00:00:00Z")));
    assert_eq!(invoices[0].amount_msat, 5_000_000);
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.trial_will_end",
            "subscription.updated"
        ]
    );
    assert_eq!(app.event_types(&invoices[0].id).await, ["invoice.created"]);
}

#[tokio::test]
async fn a_short_trial_gets_its_notice_at_once_and_a_caught_up_trial_in_order() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let mut plan = NewPlan::new(
        "Short trial",
        sat(1_000),
        Schedule::every(Interval::Month, 1).unwrap(),
    );
    plan.trial = Duration::days(2);
    let plan = app.plan(&merchant, plan).await;
    let customer = app.customer(&merchant).await;
    let short = app.subscribe(&merchant, &customer, &plan, None).await;
    app.run_billing().await;
    assert_eq!(
        app.event_types(&short.id).await,
        ["subscription.created", "subscription.trial_will_end"]
    );

    // A trial canceled before its notice never gets one.
    let mut long_plan = NewPlan::new(
        "Long trial",
        sat(1_000),
        Schedule::every(Interval::Month, 1).unwrap(),
    );
    long_plan.trial = Duration::days(30);
    let long_plan = app.plan(&merchant, long_plan).await;
    let canceled = app.subscribe(&merchant, &customer, &long_plan, None).await;
    lifecycle::cancel(&app.db, app.now(), &merchant.id, &canceled.id, false)
        .await
        .unwrap();
    // A service down for the whole trial catches up: notice, then activation.
    let caught_up = app.subscribe(&merchant, &customer, &long_plan, None).await;
    app.advance(Duration::days(40)).await;
    assert!(
        !app.event_types(&canceled.id)
            .await
            .contains(&"subscription.trial_will_end".to_string())
    );
    let events = app.event_types(&caught_up.id).await;
    assert_eq!(
        &events[..3],
        [
            "subscription.created",
            "subscription.trial_will_end",
            "subscription.updated"
        ],
        "{events:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "subscription.trial_will_end")
            .count(),
        1
    );
}

#[tokio::test]
async fn cancel_at_period_end_ends_the_subscription_without_another_invoice() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.pay_all_open().await;

    app.advance(Duration::days(10)).await;
    let canceling = lifecycle::cancel(&app.db, app.now(), &merchant.id, &sub.id, true)
        .await
        .unwrap();
    assert_eq!(canceling.status, "active");
    assert!(canceling.cancel_at_period_end);

    app.advance_to(at("2028-01-01T00:00:00Z")).await;
    let ended = app.subscription(&sub.id).await;
    assert_eq!(ended.status, "canceled");
    assert_eq!(ended.ended_at, Some(at("2028-01-01T00:00:00Z")));
    app.advance(Duration::days(90)).await;
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.updated",
            "subscription.canceled"
        ]
    );
}

#[tokio::test]
async fn cancel_now_stops_billing_at_once_and_cannot_be_repeated() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;

    let canceled = lifecycle::cancel(&app.db, app.now(), &merchant.id, &sub.id, false)
        .await
        .unwrap();
    assert_eq!(canceled.status, "canceled");
    assert_eq!(canceled.ended_at, Some(t0()));
    app.advance(Duration::days(100)).await;
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);
    let again = lifecycle::cancel(&app.db, app.now(), &merchant.id, &sub.id, false).await;
    assert!(
        matches!(
            again,
            Err(Error::Conflict {
                code: "illegal_transition",
                ..
            })
        ),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_paused_subscription_is_not_billed_and_resumes_with_a_new_period() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    app.pay_all_open().await;

    // Paused and resumed inside the period: the period simply carries on.
    lifecycle::pause(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    app.advance(Duration::days(3)).await;
    let resumed = lifecycle::resume(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    assert_eq!(resumed.current_period_end, at("2028-01-01T00:00:00Z"));
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);

    // Paused across two period ends: nothing is billed until it resumes.
    lifecycle::pause(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    app.advance_to(at("2028-02-10T08:00:00Z")).await;
    assert_eq!(app.subscription(&sub.id).await.status, "paused");
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);
    let resumed = lifecycle::resume(&app.db, app.now(), &merchant.id, &sub.id)
        .await
        .unwrap();
    assert_eq!(resumed.status, "active");
    assert_eq!(resumed.current_period_start, at("2028-02-10T08:00:00Z"));
    assert_eq!(resumed.current_period_end, at("2028-03-10T08:00:00Z"));
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1].period_start, Some(at("2028-02-10T08:00:00Z")));
    assert_eq!(
        app.event_types(&sub.id).await,
        [
            "subscription.created",
            "subscription.paused",
            "subscription.resumed",
            "subscription.paused",
            "subscription.resumed"
        ]
    );
    let canceled = lifecycle::cancel(&app.db, app.now(), &merchant.id, &sub.id, false)
        .await
        .unwrap();
    let resume_canceled = lifecycle::resume(&app.db, app.now(), &merchant.id, &canceled.id).await;
    assert!(matches!(resume_canceled, Err(Error::Conflict { .. })));
}

#[tokio::test]
async fn a_plan_change_takes_effect_when_the_period_ends() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let monthly = app.monthly_plan(&merchant).await;
    let weekly = app
        .plan(
            &merchant,
            NewPlan::new(
                "Weekly",
                sat(3_000),
                Schedule::every(Interval::Week, 1).unwrap(),
            ),
        )
        .await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &monthly, None).await;
    app.pay_all_open().await;

    let changed = lifecycle::change_plan(&app.db, app.now(), &merchant.id, &sub.id, &weekly.id)
        .await
        .unwrap();
    assert_eq!(changed.plan_id, monthly.id);
    assert_eq!(changed.next_plan_id, Some(weekly.id.clone()));

    app.advance_to(at("2028-01-01T00:00:00Z")).await;
    let invoices = app.invoices_of(&sub.id).await;
    assert_eq!(invoices.len(), 2);
    assert_eq!(invoices[1].amount_msat, 3_000_000);
    assert_eq!(invoices[1].plan_id, Some(weekly.id.clone()));
    assert_eq!(invoices[1].period_end, Some(at("2028-01-08T00:00:00Z")));
    let sub_now = app.subscription(&sub.id).await;
    assert_eq!(sub_now.plan_id, weekly.id);
    assert_eq!(sub_now.next_plan_id, None);
}

#[tokio::test]
async fn bad_subscription_requests_name_the_field() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let other = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let foreign_customer = app.customer(&other).await;
    let cases = [
        (
            foreign_customer.id.clone(),
            plan.id.clone(),
            None,
            "customer",
        ),
        (
            customer.id.clone(),
            "plan_01hzzzzzzzzzzzzzzzzzzzzzzz".to_owned(),
            None,
            "plan",
        ),
        (
            customer.id.clone(),
            plan.id.clone(),
            Some(t0() + Duration::days(45)),
            "billing_anchor",
        ),
    ];
    for (customer_id, plan_id, billing_anchor, param) in cases {
        let new = NewSubscription {
            customer_id,
            plan_id,
            billing_anchor,
            ..Default::default()
        };
        match lifecycle::create(&app.db, app.now(), &merchant.id, new).await {
            Err(Error::Invalid { param: p, .. }) => assert_eq!(p, param),
            other => panic!("expected an error naming {param}, got {other:?}"),
        }
    }
    // Another merchant's subscription does not exist for this merchant.
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    let foreign = lifecycle::pause(&app.db, app.now(), &other.id, &sub.id).await;
    assert!(matches!(foreign, Err(Error::NotFound { .. })));
}
