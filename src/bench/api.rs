//! `pushbill bench api`: `GET /v1/customers/{id}` (authenticated, a
//! customer of the key's merchant, taken in turn from `customers` seeded
//! ones) versus `GET /healthz` (which also asks the database), on the same
//! running server in the same run, driven by [`super::load`].

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use super::load::{self, Target};
use super::report::Comparison;
use crate::auth::api_keys::Mode;
use crate::catalog::{self, customers::NewCustomer};
use crate::config::Network;
use crate::domain::EmailAddress;

/// The merchant the bench asks as: its key's secret and its customers.
pub struct Seed {
    pub api_key: String,
    pub customer_ids: Vec<String>,
}

/// A merchant with an API key (of `network`'s mode) and `customers` customers.
pub async fn seed(
    db: &DatabaseConnection,
    network: Network,
    customers: usize,
) -> anyhow::Result<Seed> {
    let now = Utc::now();
    let (merchant, key) = catalog::merchants::create_with_api_key(
        db,
        now,
        "Bench API Merchant",
        "BAPI",
        Mode::for_network(network),
        false,
    )
    .await?;
    let mut customer_ids = Vec::with_capacity(customers);
    for i in 0..customers.max(1) {
        let customer = NewCustomer {
            email: Some(EmailAddress::parse(&format!("bench{i}@example.com"))?),
            name: Some(format!("Bench Customer {i}")),
            ..NewCustomer::default()
        };
        let row = catalog::customers::create(db, now, &merchant.id, customer).await?;
        customer_ids.push(row.id);
    }
    Ok(Seed {
        api_key: key.secret,
        customer_ids,
    })
}

pub struct Load {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub runs: usize,
}

/// Alternates a customers run and a healthz run, `load.runs` times each.
pub async fn measure(
    addr: SocketAddr,
    backend: &str,
    seed: &Seed,
    load: &Load,
) -> anyhow::Result<Comparison> {
    let customers = Target {
        addr,
        paths: seed
            .customer_ids
            .iter()
            .map(|id| format!("/v1/customers/{id}"))
            .collect(),
        headers: vec![format!("Authorization: Bearer {}", seed.api_key)],
    };
    let health = Target {
        addr,
        paths: vec!["/healthz".to_owned()],
        headers: Vec::new(),
    };
    let mut report = Comparison::new(format!("GET /v1/customers/{{id}}, {backend}"), "req/s")
        .ceiling(
            format!("GET /healthz on the same server, {backend}"),
            "req/s",
        );
    for _ in 0..load.runs.max(1) {
        report
            .runs
            .push(load::run(&customers, load.connections, load.warmup, load.duration).await?);
        report
            .ceiling_runs
            .push(load::run(&health, load.connections, load.warmup, load.duration).await?);
    }
    Ok(report.finish())
}
