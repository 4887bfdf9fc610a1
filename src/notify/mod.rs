//! The notifier (role `worker`): tells merchants' systems what happened.
//! Two loops: signed webhooks, and email to customers and merchants (queued
//! by the webhook fan-out, sent by the email loop).

pub mod email;
pub mod webhooks;

use tokio_util::sync::CancellationToken;

use crate::context::Context;

/// Runs the worker role's loops until `shutdown`.
pub async fn run(state: Context, shutdown: CancellationToken) {
    let mut loops = tokio::task::JoinSet::new();
    loops.spawn(webhooks::run(state.clone(), shutdown.clone()));
    loops.spawn(email::run(state.clone(), shutdown.clone()));
    while loops.join_next().await.is_some() {}
}

/// Another process may have advanced the shared sandbox clock: catch up.
pub async fn sync_test_clock(state: &Context) {
    if let Err(e) = state.clocks.catch_up(&state.db).await {
        tracing::warn!(error = %e, "worker: cannot read the sandbox clock");
    }
}
