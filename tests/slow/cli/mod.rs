//! The `pushbill` binary's commands.

mod commands;
mod demo;
