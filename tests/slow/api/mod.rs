//! The REST API where a test needs the `pushbill` CLI.

mod auth;
