//! pushbill: subscription billing for merchants paid over Lightning.

pub mod app;
pub mod auth;
pub mod bench;
pub mod billing;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod context;
pub mod demo;
pub mod domain;
pub mod error;
pub mod node;
pub mod node_cli;
pub mod notify;
pub mod nwc;
pub mod objects;
pub mod sandbox;
pub mod ssrf;
pub mod store;
pub mod telemetry;
pub mod web;
