//! The `pushbill` binary's commands.

mod bench;
mod commands;
mod demo;
