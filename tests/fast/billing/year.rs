use chrono::{Datelike, Duration, Months};

use crate::support::app::{at, spawn_app, t0};

/// Monthly subscriptions anchored on the 1st, 15th, 29th, 30th and 31st,
/// advanced a day at a time for a year (through February 2028, a leap year)
/// and paid as they are invoiced: exactly 12 invoices per year of periods,
/// contiguous, ending on the anchor's day clamped to the month.
#[tokio::test]
async fn a_year_of_monthly_billing_invoices_each_period_exactly_once() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let mut subs = Vec::new();
    for day in [1, 15, 29, 30, 31] {
        let anchor = t0().with_day(day).unwrap();
        for _ in 0..3 {
            let customer = app.customer(&merchant).await;
            subs.push((
                day,
                anchor,
                app.subscribe(&merchant, &customer, &plan, Some(anchor))
                    .await,
            ));
        }
    }
    app.pay_all_open().await;
    let end = at("2029-01-02T00:00:00Z");
    while app.now() < end {
        app.advance(Duration::days(1)).await;
        app.pay_all_open().await;
    }
    for (day, anchor, sub) in &subs {
        let invoices = app.invoices_of(&sub.id).await;
        // The first period runs from the start to the anchor (none when they coincide).
        assert_eq!(invoices[0].period_start, Some(t0()), "anchor day {day}");
        for pair in invoices.windows(2) {
            assert_eq!(
                pair[0].period_end, pair[1].period_start,
                "contiguous, anchor day {day}"
            );
        }
        let last = invoices.last().unwrap();
        assert!(last.period_start.unwrap() <= app.now() && app.now() < last.period_end.unwrap());
        let year_end = *anchor + Months::new(12);
        let in_year: Vec<_> = invoices
            .iter()
            .filter(|i| i.period_start.unwrap() >= *anchor && i.period_start.unwrap() < year_end)
            .collect();
        assert_eq!(in_year.len(), 12, "anchor day {day}");
        for (k, invoice) in in_year.iter().enumerate() {
            let expected_start = *anchor + Months::new(k as u32);
            assert_eq!(
                invoice.period_start.unwrap(),
                expected_start,
                "anchor day {day}, period {k}"
            );
            assert_eq!(invoice.status, "paid");
            assert_eq!(invoice.amount_msat, 10_000_000);
        }
        let sub_now = app.subscription(&sub.id).await;
        assert_eq!(sub_now.status, "active");
        for invoice in &invoices {
            assert_eq!(
                app.event_types(&invoice.id).await,
                ["invoice.created", "invoice.paid"]
            );
        }
    }
    // The 31st clamps to Feb 29 in 2028, then returns to the 31st.
    let (_, _, sub31) = subs.iter().find(|(d, _, _)| *d == 31).unwrap();
    let starts: Vec<_> = app
        .invoices_of(&sub31.id)
        .await
        .iter()
        .map(|i| i.period_start.unwrap())
        .collect();
    for expected in [
        "2028-01-31T00:00:00Z",
        "2028-02-29T00:00:00Z",
        "2028-03-31T00:00:00Z",
        "2028-04-30T00:00:00Z",
    ] {
        assert!(
            starts.contains(&at(expected)),
            "missing period starting {expected}"
        );
    }
}

/// A service stopped for three billing periods bills each missed period once
/// when it comes back, oldest first, and nothing in the future.
#[tokio::test]
async fn catching_up_after_downtime_bills_each_missed_period_once_in_order() {
    let app = spawn_app().await;
    let merchant = app.merchant().await;
    let plan = app.monthly_plan(&merchant).await;
    let customer = app.customer(&merchant).await;
    let sub = app.subscribe(&merchant, &customer, &plan, None).await;
    assert_eq!(app.invoices_of(&sub.id).await.len(), 1);
    app.pay_all_open().await;

    let outcome = app.advance_to(at("2028-03-01T12:00:00Z")).await;
    assert_eq!(outcome.periods_rolled, 3);
    let invoices = app.invoices_of(&sub.id).await;
    let starts: Vec<_> = invoices.iter().map(|i| i.period_start.unwrap()).collect();
    assert_eq!(
        starts,
        [
            "2027-12-01T00:00:00Z",
            "2028-01-01T00:00:00Z",
            "2028-02-01T00:00:00Z",
            "2028-03-01T00:00:00Z"
        ]
        .map(at)
    );
    // Numbered in period order.
    let numbers: Vec<_> = invoices.iter().map(|i| i.number.clone()).collect();
    let mut sorted = numbers.clone();
    sorted.sort();
    assert_eq!(numbers, sorted);
    // Late invoices still give the customer the full payment window.
    assert_eq!(invoices[0].status, "paid");
    for invoice in &invoices[1..] {
        assert_eq!(invoice.due_at, app.now() + Duration::days(1));
        assert_eq!(invoice.status, "open");
    }
    // Running again changes nothing, and nothing is billed ahead of time.
    assert_eq!(app.run_billing().await.periods_rolled, 0);
    assert_eq!(app.invoices_of(&sub.id).await.len(), 4);
    let sub = app.subscription(&sub.id).await;
    assert_eq!(sub.current_period_start, at("2028-03-01T00:00:00Z"));
    assert_eq!(sub.current_period_end, at("2028-04-01T00:00:00Z"));
}
