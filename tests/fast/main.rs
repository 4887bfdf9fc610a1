//! Fast integration tests: the real application in this process (web role on
//! port 0, the billing engine and workers driven by the tests) on a fresh
//! database per test, with an in-process webhook receiver. Nothing here
//! spawns a process or an LDK node: `cargo test --test fast` gives feedback
//! seconds after the build. SQLite by default; PostgreSQL when
//! PUSHBILL_TEST_POSTGRES_URL is set.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod billing;
mod notify;
mod web;
