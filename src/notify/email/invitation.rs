//! The dashboard's invitation email: a merchant's user invited a teammate
//! on the Team page; the link goes to the invited address. Queued in the
//! outbox like every email; once sent (or failed for good) the outbox
//! replaces its bodies by [`super::outbox::REDACTED`], so the token is not
//! kept in clear.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::messages::Kind;
use super::outbox;
use super::render::{self, Msg, when};
use crate::store::merchants;

/// The URL of an invitation.
pub fn invite_url(base_url: &str, token: &str) -> String {
    format!(
        "{}/dashboard/invite/{token}",
        base_url.trim_end_matches('/')
    )
}

/// Queues the invitation of `to` to `merchant`, sent by `inviter`; `false`
/// when it cannot render. `now` is the deployment's time (the outbox's).
#[allow(clippy::too_many_arguments)]
pub async fn queue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    base_url: &str,
    merchant: &merchants::Model,
    inviter: &str,
    to: &str,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let msg = Msg {
        merchant_name: merchant.name.clone(),
        inviter: inviter.to_owned(),
        invite_url: invite_url(base_url, token),
        invite_expires: when(expires_at),
        ..Msg::default()
    };
    let rendered = match render::render(Kind::Invitation, &msg) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "email: cannot render the invitation");
            return Ok(false);
        }
    };
    outbox::queue_one(
        db,
        now,
        &merchant.id,
        Kind::Invitation,
        to.to_owned(),
        rendered,
    )
    .await?;
    Ok(true)
}
