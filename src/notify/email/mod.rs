//! Email to customers and merchants: the emails the webhook fan-out queues
//! for its events ([`from_events`]), the outbox ([`outbox`]), the templates
//! ([`render`]), the SMTP sender ([`send`]), which event sends what and the
//! merchant's choices ([`messages`]), and the merchant's daily unpaid
//! summary ([`digest`]), and the customer portal's sign-in email
//! ([`portal_link`]). See docs/email.md.

pub mod digest;
pub mod from_events;
pub mod invitation;
pub mod messages;
pub mod outbox;
pub mod portal_link;
pub mod render;
pub mod send;

use chrono::Duration;
use sea_orm::DbErr;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use send::Mailer;

/// Rows claimed per round.
const CLAIM_BATCH: u64 = 20;
/// How long a claimed row is kept from other senders (app clock).
const LEASE: Duration = Duration::minutes(10);
/// Idle wait between polls of the outbox.
const POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// What one [`drain`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: usize,
    pub failed_attempts: usize,
    /// Payment emails not sent because their invoice is no longer open.
    pub withdrawn: usize,
}

/// How sending one row ended.
enum Outcome {
    Sent,
    Failed,
    Withdrawn,
}

/// Fans out waiting events (which queues their email) and sends every email
/// due at the clock's time, once each, waiting for each answer: for tests
/// and tools; the worker role runs [`run`].
pub async fn drain(state: &Context, mailer: &Mailer) -> Result<Drained, DbErr> {
    super::webhooks::fan_out_all(state, state.clocks.now()).await?;
    digest::send_due(&state.db, state.clocks.now()).await?;
    let mut done = Drained::default();
    loop {
        let claimed = outbox::claim_due(&state.db, state.clocks.now(), LEASE, CLAIM_BATCH).await?;
        if claimed.is_empty() {
            return Ok(done);
        }
        for row in &claimed {
            match send_one(state, mailer, row).await? {
                Outcome::Sent => done.sent += 1,
                Outcome::Failed => done.failed_attempts += 1,
                Outcome::Withdrawn => done.withdrawn += 1,
            }
        }
    }
}

/// Sends one row and records the outcome. A payment email whose invoice is
/// no longer open (paid meanwhile, voided) is withdrawn instead.
async fn send_one(
    state: &Context,
    mailer: &Mailer,
    row: &crate::store::outgoing_emails::Model,
) -> Result<Outcome, DbErr> {
    if let Some(reason) = outbox::obsolete(&state.db, row).await? {
        tracing::info!(email = %row.id, kind = %row.kind, %reason, "email withdrawn: its invoice is no longer open");
        outbox::withdraw(&state.db, state.clocks.now(), row, &reason).await?;
        return Ok(Outcome::Withdrawn);
    }
    let result = mailer.send(row).await;
    if let Err(e) = &result {
        tracing::info!(
            email = %row.id,
            kind = %row.kind,
            permanent = e.permanent,
            error = %e.message,
            "email not sent"
        );
    }
    outbox::record(&state.db, state.clocks.now(), row, &result).await?;
    Ok(if result.is_ok() {
        Outcome::Sent
    } else {
        Outcome::Failed
    })
}

/// The email loop of the worker role (the webhook loop queues the mail as it
/// fans out events). Without `[smtp]` it does nothing.
pub async fn run(state: Context, shutdown: CancellationToken) {
    let Some(smtp) = &state.settings.smtp else {
        tracing::info!("email: no [smtp] settings, not sending mail");
        return;
    };
    let mailer = match Mailer::new(smtp) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "email: cannot build the SMTP transport, not running");
            return;
        }
    };
    loop {
        super::sync_test_clock(&state).await;
        if let Err(e) = digest::send_due(&state.db, state.clocks.now()).await {
            tracing::error!(error = %e, "email: making the unpaid summaries failed; retrying");
        }
        let mut busy = false;
        match outbox::claim_due(&state.db, state.clocks.now(), LEASE, CLAIM_BATCH).await {
            Ok(claimed) => {
                busy = !claimed.is_empty();
                for row in &claimed {
                    if let Err(e) = send_one(&state, &mailer, row).await {
                        tracing::error!(error = %e, email = %row.id, "email: cannot record an attempt");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "email: claiming the outbox failed; retrying"),
        }
        if !busy {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(POLL) => {}
            }
        } else if shutdown.is_cancelled() {
            break;
        }
    }
}
