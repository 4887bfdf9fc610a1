//! `pushbill bench`: measured performance, each figure beside a ceiling
//! measured in the same run on the same machine (docs/performance.md).
//!
//! - `billing`: one billing run over N due subscriptions versus `ceiling`,
//!   the same rows written by set-based SQL; and the seeding the other
//!   benches and the tests reuse
//! - `issue`: BOLT11 issuance by the node role versus raw recoverable
//!   secp256k1 signatures
//! - `api`: `GET /v1/customers/{id}` versus `GET /healthz` on one server,
//!   driven by `load` (64 keep-alive HTTP/1.1 connections)
//! - `push`: pushes replied by subscriber nodes through the node role's
//!   push sender versus `bench_ping` round trips to the same peers
//! - `pages`: every dashboard page of a merchant with N subscriptions
//!   versus `GET /healthz`, against the 50 ms target
//! - `lab`: throwaway databases, chains and nodes the benches run on
//! - `report`: medians, load average, the printed lines

pub mod api;
pub mod billing;
pub mod ceiling;
pub mod issue;
pub mod lab;
pub mod load;
pub mod pages;
pub mod push;
pub mod report;

pub use billing::{BillingReport, Seeded, billing, seed_due_subscriptions};
