//! Wakes up on the configured cron tick and runs the billing engine.

use tokio_util::sync::CancellationToken;

use crate::app::AppState;

pub async fn run(_state: AppState, shutdown: CancellationToken) {
    shutdown.cancelled().await;
}
