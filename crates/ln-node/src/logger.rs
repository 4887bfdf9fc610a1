//! LDK's log records, forwarded to `tracing` under the target `ldk`.

use lightning::util::logger::{Level, Logger, Record};

pub struct LdkLogger;

impl Logger for LdkLogger {
    fn log(&self, record: Record) {
        let module = record.module_path;
        match record.level {
            Level::Gossip | Level::Trace => {
                tracing::trace!(target: "ldk", module, "{}", record.args)
            }
            Level::Debug => tracing::debug!(target: "ldk", module, "{}", record.args),
            Level::Info => tracing::info!(target: "ldk", module, "{}", record.args),
            Level::Warn => tracing::warn!(target: "ldk", module, "{}", record.args),
            Level::Error => tracing::error!(target: "ldk", module, "{}", record.args),
        }
    }
}
