//! What every case starts from: a migrated database with two merchants,
//! their plans and customers, made once per test run and copied for each
//! case (creating the schema per case would cost more than the case).

use chrono::Duration;
use pushbill::catalog::policy::DunningPolicy;
use pushbill::catalog::{self, customers::NewCustomer, plans::NewPlan};
use pushbill::domain::{GraceAction, Interval, Msat, NodeId, Schedule};
use pushbill::store::{self, customers, merchants, plans};
use sea_orm::{ConnectionTrait, Database};

use crate::support::app::{NODE, TestDatabase, fresh_database, sat, t0};

/// The plans every merchant offers: months, days, weeks with a trial, cron,
/// both grace actions, and a cron schedule that stops firing.
fn plan_specs() -> Vec<NewPlan> {
    let every = |i, n| Schedule::every(i, n).unwrap();
    let monthly = NewPlan::new("Monthly", sat(10_000), every(Interval::Month, 1));
    let mut ten_days = NewPlan::new("Ten days", sat(2_500), every(Interval::Day, 10));
    ten_days.payment_due = Duration::hours(6);
    ten_days.dunning = DunningPolicy {
        retries: vec![Duration::hours(1)],
        grace: Duration::days(2),
        grace_action: GraceAction::Cancel,
    };
    let mut cron = NewPlan::new(
        "1st and 15th",
        sat(5_000),
        Schedule::cron("0 0 0 1,15 * *").unwrap(),
    );
    cron.dunning = DunningPolicy {
        retries: vec![Duration::hours(1), Duration::days(1)],
        grace: Duration::days(3),
        grace_action: GraceAction::MarkUnpaid,
    };
    let mut weekly = NewPlan::new(
        "Weekly with a trial",
        Msat::from_msat(1_234_567).unwrap(),
        every(Interval::Week, 1),
    );
    weekly.trial = Duration::days(7);
    // Fires on 1 Feb and 1 Mar 2028, then never again.
    let ending = NewPlan::new(
        "February and March 2028",
        sat(3_000),
        Schedule::cron("0 0 0 1 2,3 * 2028").unwrap(),
    );
    vec![monthly, ten_days, cron, weekly, ending]
}

/// The plan that stops firing is offered only once defect 1 is fixed.
pub const ENDING_PLAN: usize = 4;

pub fn usable_plans() -> usize {
    5
}

/// The template database and what is in it.
pub struct Template {
    database: TestDatabase,
    pub merchants: Vec<merchants::Model>,
    /// Per merchant, in the order of [`plan_specs`].
    pub plans: Vec<Vec<plans::Model>>,
    /// (merchant index, customer).
    pub customers: Vec<(usize, customers::Model)>,
}

impl Template {
    pub async fn new() -> Template {
        let database = fresh_database().await;
        let db = store::connect(&database.url, 2).await.unwrap();
        store::migrate(&db).await.unwrap();
        let start = t0();
        let mut merchants = Vec::new();
        let mut plans = Vec::new();
        for (name, prefix) in [("Bobflix", "BOB"), ("Acme", "ACME")] {
            let m = catalog::merchants::create(&db, start, name, prefix)
                .await
                .unwrap();
            let mut mine = Vec::new();
            for spec in plan_specs() {
                mine.push(
                    catalog::plans::create(&db, start, &m.id, spec)
                        .await
                        .unwrap(),
                );
            }
            plans.push(mine);
            merchants.push(m);
        }
        let mut customers = Vec::new();
        // Merchant 0: one customer with a node (push), one without (manual).
        // Merchant 1: one with a node.
        for (m, node) in [(0, true), (0, false), (1, true)] {
            let new = NewCustomer {
                email: Some("alice@example.com".parse().unwrap()),
                node_id: node.then(|| NodeId::parse(NODE).unwrap()),
                ..NewCustomer::default()
            };
            let c = catalog::customers::create(&db, start, &merchants[m].id, new)
                .await
                .unwrap();
            customers.push((m, c));
        }
        if !store::is_postgres(&db) {
            db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .unwrap();
        }
        db.close().await.unwrap();
        Template {
            database,
            merchants,
            plans,
            customers,
        }
    }

    /// A database of its own for one case, as the template left it.
    pub async fn copy(&self) -> CaseDatabase {
        match self.database.backend {
            "postgresql" => {
                let admin = std::env::var("PUSHBILL_TEST_POSTGRES_URL").unwrap();
                let template = database_name(&self.database.url);
                let name = format!(
                    "{template}_{}",
                    ulid::Ulid::new().to_string().to_lowercase()
                );
                let server = Database::connect(&admin).await.unwrap();
                server
                    .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .await
                    .unwrap();
                // Commits need not wait for the disk: no case crashes the server.
                server
                    .execute_unprepared(&format!(
                        "ALTER DATABASE {name} SET synchronous_commit TO off"
                    ))
                    .await
                    .unwrap();
                server.close().await.unwrap();
                let url = self.database.url.replace(&template, &name);
                CaseDatabase::Postgres { admin, name, url }
            }
            _ => {
                let from = self.database.url.trim_start_matches("sqlite://");
                // In memory where the machine has it: no disk writes per step.
                let dir = tempfile::tempdir_in("/dev/shm")
                    .or_else(|_| tempfile::tempdir())
                    .unwrap();
                let to = dir.path().join("model.db");
                std::fs::copy(from, &to).unwrap();
                let url = format!("sqlite://{}", to.display());
                CaseDatabase::Sqlite { _dir: dir, url }
            }
        }
    }

    pub async fn drop_database(self) {
        if self.database.backend == "postgresql" {
            let admin = std::env::var("PUSHBILL_TEST_POSTGRES_URL").unwrap();
            store::drop_postgres_database(&admin, &database_name(&self.database.url))
                .await
                .unwrap();
        }
    }
}

fn database_name(url: &str) -> String {
    url.rsplit('/').next().unwrap_or_default().to_owned()
}

/// A case's database, dropped with the case.
pub enum CaseDatabase {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin: String,
        name: String,
        url: String,
    },
}

impl CaseDatabase {
    /// Drops a PostgreSQL case database (a SQLite one goes with its folder).
    pub async fn drop_database(&self) {
        if let CaseDatabase::Postgres { admin, name, .. } = self {
            store::drop_postgres_database(admin, name).await.unwrap();
        }
    }

    pub fn url(&self) -> &str {
        match self {
            CaseDatabase::Sqlite { url, .. } | CaseDatabase::Postgres { url, .. } => url,
        }
    }
}
