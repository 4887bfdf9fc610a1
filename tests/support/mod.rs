//! What the test binaries share: starting the app on a fresh database, and
//! the real components the tests talk to. Each binary includes this folder
//! with `#[path = "../support/mod.rs"] mod support;`.

// Each binary uses its own part of this module (the fast one no LDK, SMTP or
// browser helpers), so what one binary leaves unused is no dead code.
#![allow(dead_code)]

/// The app on port 0 with a test clock, fresh databases, API clients, shortcuts.
pub mod app;
/// Headless chromium loading a page and reading its DOM.
pub mod browser;
/// A plain HTTP client of the dashboard (cookies, CSRF tokens).
pub mod dashboard;
/// A deployment's LDK node answering grant messages, and payers with channels to it.
pub mod deployment;
/// The app mailing through the real SMTP server, and what it sent.
pub mod email;
/// The chain simulator and LDK node settings for the Lightning tests.
pub mod ln;
/// Nostr Wallet Connect: an in-process relay and the merchant's wallet sender.
pub mod nwc;
/// The customer portal: sign-in links (API, email) and signing in.
pub mod portal;
/// A real SMTP server (aiosmtpd) in a child process.
pub mod smtp;
/// Polling until something holds.
pub mod wait;
/// A real webhook receiver on loopback, with Standard Webhooks verification.
pub mod webhook_receiver;
