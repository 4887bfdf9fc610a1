//! The worker role as a separate `pushbill serve` process, killed with
//! SIGKILL while deliveries are pending (one of them in flight) and
//! restarted: every event still reaches the endpoint at least once.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use pushbill::catalog::{self, customers::NewCustomer};
use pushbill::notify::webhooks::endpoints::{self, NewEndpoint};
use pushbill::store::{self, events, webhook_deliveries};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::support::app::{fresh_database, test_settings};
use crate::support::wait::wait_until;
use crate::support::webhook_receiver::{Answer, Receiver};

const EVENTS: usize = 60;

fn worker(database_url: &str, timeout_secs: u32) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushbill"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PUSHBILL") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["serve", "--roles", "worker"])
        .env("PUSHBILL__DATABASE__URL", database_url)
        .env("PUSHBILL__WEBHOOKS__TIMEOUT_SECS", timeout_secs.to_string())
        .env("PUSHBILL__WEBHOOKS__POLL_INTERVAL_MS", "20")
        .env("PUSHBILL__WEBHOOKS__ALLOW_PRIVATE_ADDRESSES", "true")
        .env("PUSHBILL__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pushbill serve --roles worker")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_deliveries_pending_then_restart_delivers_every_event() {
    let database = fresh_database().await;
    let db = store::connect(&database.url, 4).await.unwrap();
    store::migrate(&db).await.unwrap();
    let receiver = Receiver::start().await;
    // The 20th request hangs: the worker is killed with it in flight and the
    // rest of the queue pending.
    receiver.script((0..19).map(|_| Answer::status(200)).chain([Answer {
        status: 200,
        retry_after: None,
        hang: true,
        body: None,
    }]));
    let now = Utc::now();
    let merchant = catalog::merchants::create(&db, now, "Bobflix", "BOB")
        .await
        .unwrap();
    let settings = test_settings(&database.url);
    endpoints::create(
        &db,
        endpoints::policy(&settings),
        now,
        &merchant.id,
        NewEndpoint {
            url: receiver.url.clone(),
            enabled_events: vec!["*".into()],
            description: None,
        },
    )
    .await
    .unwrap();
    for i in 0..EVENTS {
        let new = NewCustomer {
            email: Some(format!("c{i}@example.com").parse().unwrap()),
            ..NewCustomer::default()
        };
        catalog::customers::create(&db, now, &merchant.id, new)
            .await
            .unwrap();
    }

    let mut first = worker(&database.url, 3);
    wait_until("the 20th request", Duration::from_secs(120), || async {
        receiver.count() >= 20
    })
    .await;
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    receiver.open_gate();
    let pending = webhook_deliveries::Entity::find()
        .filter(webhook_deliveries::Column::Status.eq("pending"))
        .count(&db)
        .await
        .unwrap();
    println!(
        "killed with {pending} deliveries pending ({})",
        database.backend
    );
    assert!(pending > 0, "the kill came after everything was delivered");

    let mut second = worker(&database.url, 3);
    let all: HashSet<String> = events::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(all.len(), EVENTS);
    wait_until(
        "every event to be delivered",
        Duration::from_secs(120),
        || async {
            let delivered: HashSet<String> = receiver
                .received()
                .into_iter()
                .filter(|r| r.answered == 200)
                .map(|r| r.id)
                .collect();
            all.is_subset(&delivered)
        },
    )
    .await;
    wait_until(
        "the worker to record it",
        Duration::from_secs(60),
        || async {
            webhook_deliveries::Entity::find()
                .filter(webhook_deliveries::Column::Status.eq("succeeded"))
                .count(&db)
                .await
                .unwrap()
                == EVENTS as u64
        },
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
}

/// Two worker processes on one database share the queue: every message is
/// sent exactly once, and no endpoint ever has two requests in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_send_every_message_once_one_at_a_time_per_endpoint() {
    const PER_ENDPOINT: usize = 30;
    let database = fresh_database().await;
    let db = store::connect(&database.url, 4).await.unwrap();
    store::migrate(&db).await.unwrap();
    let now = Utc::now();
    let merchant = catalog::merchants::create(&db, now, "Bobflix", "BOB")
        .await
        .unwrap();
    let settings = test_settings(&database.url);
    let mut receivers = Vec::new();
    for _ in 0..3 {
        let receiver = Receiver::start().await;
        receiver.set_delay(Duration::from_millis(5));
        endpoints::create(
            &db,
            endpoints::policy(&settings),
            now,
            &merchant.id,
            NewEndpoint {
                url: receiver.url.clone(),
                enabled_events: vec!["*".into()],
                description: None,
            },
        )
        .await
        .unwrap();
        receivers.push(receiver);
    }
    for i in 0..PER_ENDPOINT {
        let new = NewCustomer {
            email: Some(format!("c{i}@example.com").parse().unwrap()),
            ..NewCustomer::default()
        };
        catalog::customers::create(&db, now, &merchant.id, new)
            .await
            .unwrap();
    }
    let mut workers = [worker(&database.url, 15), worker(&database.url, 15)];
    wait_until(
        "every delivery to succeed",
        Duration::from_secs(180),
        || async {
            webhook_deliveries::Entity::find()
                .filter(webhook_deliveries::Column::Status.eq("succeeded"))
                .count(&db)
                .await
                .unwrap()
                == (3 * PER_ENDPOINT) as u64
        },
    )
    .await;
    for w in &mut workers {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    for r in &receivers {
        let ids: Vec<String> = r.received().into_iter().map(|m| m.id).collect();
        let unique: HashSet<&String> = ids.iter().collect();
        assert_eq!(ids.len(), PER_ENDPOINT, "each message sent once");
        assert_eq!(unique.len(), PER_ENDPOINT);
        assert_eq!(r.max_in_flight(), 1, "one request at a time per endpoint");
    }
}
