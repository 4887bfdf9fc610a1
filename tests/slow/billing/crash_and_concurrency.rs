//! The billing engine as separate `pushbill serve` processes: killed with
//! SIGKILL in the middle of a run, and three of them racing on one database.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use pushbill::bench::seed_due_subscriptions;
use pushbill::store::{self, events, invoices, payment_requests, subscriptions};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};

use crate::support::app::fresh_database;
use crate::support::wait::wait_until;

const SUBSCRIPTIONS: usize = 10_000;

fn scheduler(database_url: &str, log: Stdio) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushbill"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PUSHBILL") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["serve", "--roles", "scheduler"])
        .env("PUSHBILL__DATABASE__URL", database_url)
        .env("PUSHBILL__SCHEDULER__TICK", "* * * * * *")
        .env("PUSHBILL__SCHEDULER__BATCH_SIZE", "100")
        // Two billing loops per process, so the in-process workers race too.
        .env("PUSHBILL__SCHEDULER__WORKERS", "2")
        .env("PUSHBILL__LOG__FORMAT", "json")
        .env("PUSHBILL__LOG__FILTER", "info,sea_orm_migration=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start pushbill serve")
}

async fn invoice_count(db: &DatabaseConnection) -> u64 {
    invoices::Entity::find().count(db).await.unwrap()
}

/// Every subscription has exactly one invoice, for the period that was due,
/// with exactly the rows and events that belong to it.
async fn assert_billed_exactly_once(db: &DatabaseConnection, due: chrono::DateTime<Utc>) {
    assert_eq!(invoice_count(db).await, SUBSCRIPTIONS as u64);
    let per_sub: Vec<(Option<String>, i64)> = invoices::Entity::find()
        .select_only()
        .column(invoices::Column::SubscriptionId)
        .column_as(invoices::Column::Id.count(), "n")
        .group_by(invoices::Column::SubscriptionId)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        per_sub.len(),
        SUBSCRIPTIONS,
        "every subscription was invoiced"
    );
    assert!(
        per_sub.iter().all(|(_, n)| *n == 1),
        "no subscription was invoiced twice"
    );
    let wrong_period = invoices::Entity::find()
        .filter(invoices::Column::PeriodStart.ne(due))
        .count(db)
        .await
        .unwrap();
    assert_eq!(wrong_period, 0);
    let rolled = subscriptions::Entity::find()
        .filter(subscriptions::Column::CurrentPeriodStart.eq(due))
        .count(db)
        .await
        .unwrap();
    assert_eq!(rolled, SUBSCRIPTIONS as u64);
    assert_eq!(
        payment_requests::Entity::find().count(db).await.unwrap(),
        SUBSCRIPTIONS as u64
    );
    for event_type in ["invoice.created", "subscription.updated"] {
        let n = events::Entity::find()
            .filter(events::Column::EventType.eq(event_type))
            .count(db)
            .await
            .unwrap();
        assert_eq!(n, SUBSCRIPTIONS as u64, "{event_type} events");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_in_the_middle_of_a_billing_run_then_restart_bills_every_period_once() {
    let database = fresh_database().await;
    let db = store::connect(&database.url, 4).await.unwrap();
    store::migrate(&db).await.unwrap();
    let now = Utc::now();
    let due = now - chrono::Duration::minutes(1);
    seed_due_subscriptions(&db, now, due, SUBSCRIPTIONS, 3)
        .await
        .unwrap();

    let mut first = scheduler(&database.url, Stdio::null());
    wait_until("the run to start", Duration::from_secs(120), || async {
        invoice_count(&db).await >= 500
    })
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = invoice_count(&db).await;
    println!(
        "killed after {at_kill} of {SUBSCRIPTIONS} invoices ({})",
        database.backend
    );
    assert!(
        at_kill < SUBSCRIPTIONS as u64,
        "the kill came after the run ended: nothing was interrupted"
    );

    let mut second = scheduler(&database.url, Stdio::null());
    wait_until(
        "the restarted run to finish",
        Duration::from_secs(300),
        || async {
            invoice_count(&db).await >= SUBSCRIPTIONS as u64
                && subscriptions::Entity::find()
                    .filter(subscriptions::Column::NextRollAt.lte(now))
                    .count(&db)
                    .await
                    .unwrap()
                    == 0
        },
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_billed_exactly_once(&db, due).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_scheduler_processes_on_one_database_bill_every_period_once() {
    let database = fresh_database().await;
    let db = store::connect(&database.url, 4).await.unwrap();
    store::migrate(&db).await.unwrap();
    let now = Utc::now();
    let due = now - chrono::Duration::minutes(1);
    seed_due_subscriptions(&db, now, due, SUBSCRIPTIONS, 3)
        .await
        .unwrap();

    let logs: Vec<tempfile::NamedTempFile> = (0..3)
        .map(|_| tempfile::NamedTempFile::new().unwrap())
        .collect();
    let mut children: Vec<Child> = logs
        .iter()
        .map(|log| scheduler(&database.url, Stdio::from(log.reopen().unwrap())))
        .collect();
    wait_until(
        "all periods to be billed",
        Duration::from_secs(300),
        || async { invoice_count(&db).await >= SUBSCRIPTIONS as u64 },
    )
    .await;
    // Let the processes finish their current runs and log them.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for child in &mut children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_billed_exactly_once(&db, due).await;

    // What each process says it rolled adds up to exactly the work there was.
    let rolled: Vec<u64> = logs
        .iter()
        .map(|log| {
            std::fs::read_to_string(log.path())
                .unwrap()
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|v| v["fields"]["periods_rolled"].as_u64())
                .sum()
        })
        .collect();
    println!(
        "periods rolled per process on {}: {rolled:?}",
        database.backend
    );
    assert_eq!(rolled.iter().sum::<u64>(), SUBSCRIPTIONS as u64);
    assert!(
        rolled.iter().filter(|n| **n > 0).count() >= 2,
        "the processes shared the work: {rolled:?}"
    );
}

/// The benchmark's own run: every seeded subscription gets its history
/// invoice and exactly one new invoice, numbered on after the history, with
/// no gap and no repeat, by two concurrent workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_benchmark_bills_each_seeded_subscription_once_after_its_history() {
    let database = fresh_database().await;
    let db = store::connect(&database.url, 4).await.unwrap();
    store::migrate(&db).await.unwrap();
    let report = pushbill::bench::billing(&db, 300, 40, 2, 1).await.unwrap();
    assert_eq!(report.periods_rolled, 300);
    assert_eq!(invoice_count(&db).await, 600);
    let mut numbers: Vec<String> = invoices::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.number)
        .collect();
    numbers.sort();
    let expected: Vec<String> = (1..=600).map(|n| format!("B0-{n:06}")).collect();
    assert_eq!(numbers, expected);
    let per_sub: Vec<(Option<String>, i64)> = invoices::Entity::find()
        .select_only()
        .column(invoices::Column::SubscriptionId)
        .column_as(invoices::Column::Id.count(), "n")
        .group_by(invoices::Column::SubscriptionId)
        .into_tuple()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(per_sub.len(), 300);
    assert!(per_sub.iter().all(|(_, n)| *n == 2), "{per_sub:?}");
}
