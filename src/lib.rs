//! pushbill: subscription billing for merchants paid over Lightning.

pub mod app;
pub mod billing;
pub mod clock;
pub mod config;
pub mod domain;
pub mod store;
pub mod telemetry;
pub mod web;
