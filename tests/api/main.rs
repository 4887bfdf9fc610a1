//! Integration tests: the real application on a fresh database per test.
//! SQLite by default; PostgreSQL when PUSHBILL_TEST_POSTGRES_URL is set.

mod helpers;

mod billing_lifecycle;
mod billing_year;
mod cli;
mod crash_and_concurrency;
mod dunning;
mod health;
mod payments;
