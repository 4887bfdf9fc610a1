//! The loop every rail of the push queue runs in the node role: each
//! claimed attempt is tried on its own task, at most `slots` at once, and
//! recorded when its own try ends; it claims again as soon as a try ends,
//! and every `every`. At shutdown the tries in flight are dropped: their
//! leases run out and they are sent again later (the invoice must still be
//! open then).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::push_queue::Claimed;
use crate::error::Result;

/// A sender of one rail (`push_sender`, `nwc_sender`).
#[async_trait::async_trait]
pub trait Sender: Send + Sync + 'static {
    /// Attempts in flight at once.
    fn slots(&self) -> usize;
    /// Before each claim (the push rail records late replies here).
    async fn before_claim(&self) {}
    /// Claims up to `limit` due attempts.
    async fn claim(&self, limit: usize) -> Result<Vec<Claimed>>;
    /// Tries one and records how it ended, with its event.
    async fn try_one(&self, claimed: Claimed) -> Result<()>;
    /// After the loop stopped.
    async fn stopped(&self) {}
}

/// One round, all in the caller's task: tries the due attempts (at most
/// `slots`) side by side, each recorded as soon as it ends, and returns
/// once all have: how many were tried. Tests and one-off rounds use it;
/// the node role runs [`run`], which claims more as soon as a slot frees up.
pub async fn run_once<S: Sender>(sender: &S) -> Result<usize> {
    let claimed = sender.claim(sender.slots().max(1)).await?;
    let tried = claimed.len();
    let results = futures::future::join_all(claimed.into_iter().map(|c| sender.try_one(c))).await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(tried)
}

/// Runs `sender` until `shutdown`.
pub async fn run<S: Sender>(sender: S, every: Duration, shutdown: CancellationToken) {
    let sender = Arc::new(sender);
    let slots = sender.slots().max(1);
    let mut tries: JoinSet<Result<()>> = JoinSet::new();
    loop {
        while let Some(ended) = tries.try_join_next() {
            log_ended(ended);
        }
        sender.before_claim().await;
        let room = slots.saturating_sub(tries.len());
        if room > 0 {
            match sender.claim(room).await {
                Ok(claimed) => {
                    for c in claimed {
                        let sender = Arc::clone(&sender);
                        tries.spawn(async move { sender.try_one(c).await });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "claiming from the push queue failed; retrying")
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(ended) = tries.join_next(), if !tries.is_empty() => log_ended(ended),
            _ = tokio::time::sleep(every) => {}
        }
    }
    tries.shutdown().await;
    sender.stopped().await;
}

/// A try that could not be recorded keeps its lease until it runs out; it
/// is then claimed and sent again (a push with the same `push_id`).
fn log_ended(ended: std::result::Result<Result<()>, tokio::task::JoinError>) {
    match ended {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "recording an attempt failed; it is sent again after its lease")
        }
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => {}
    }
}
