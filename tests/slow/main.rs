//! Slow integration tests: everything that starts another process (`pushbill`
//! commands and `pushbill serve` roles, aiosmtpd, chromium) or real LDK nodes
//! on the chain simulator. `cargo test --test slow`. SQLite by default;
//! PostgreSQL when PUSHBILL_TEST_POSTGRES_URL is set.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod billing;
mod cli;
mod lightning;
mod notify;
mod web;
