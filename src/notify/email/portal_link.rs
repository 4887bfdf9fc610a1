//! The customer portal's sign-in email: a customer asked for a link on the
//! merchant's portal page; it goes to the address the merchant has for
//! them. Queued in the outbox like every email (sent by the worker role);
//! once sent (or failed for good) the outbox replaces its bodies by
//! [`outbox::REDACTED`], so the link's token is not kept in clear.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use super::messages::Kind;
use super::outbox;
use super::render::{self, Msg, when};
use crate::store::{customers, merchants};

/// The merchant's portal page, where customers ask for a link.
pub fn portal_url(base_url: &str, merchant_id: &str) -> String {
    format!("{}/portal/{merchant_id}", base_url.trim_end_matches('/'))
}

/// The URL of a sign-in link.
pub fn login_url(base_url: &str, token: &str) -> String {
    format!("{}/portal/login/{token}", base_url.trim_end_matches('/'))
}

/// Queues the sign-in email of `token` to the customer's address; `false`
/// (nothing queued) when the customer has no address or it cannot render.
/// `now` is the deployment's time (the outbox's), `expires_at` the link's;
/// `base_url` is the deployment's public URL.
pub async fn queue(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    base_url: &str,
    merchant: &merchants::Model,
    customer: &customers::Model,
    token: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let Some(to) = customer.email.clone() else {
        return Ok(false);
    };
    let msg = Msg {
        merchant_name: merchant.name.clone(),
        customer_name: customer.name.clone().unwrap_or_else(|| to.clone()),
        login_url: login_url(base_url, token),
        login_expires: when(expires_at),
        ..Msg::default()
    };
    let rendered = match render::render(Kind::PortalLink, &msg) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "email: cannot render the portal sign-in email");
            return Ok(false);
        }
    };
    outbox::queue_one(db, now, &merchant.id, Kind::PortalLink, to, rendered).await?;
    Ok(true)
}
