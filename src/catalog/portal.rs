//! Who may enter the customer portal: sign-in links asked for by email on
//! the merchant's portal page, made by the merchant through the API or
//! emailed from the dashboard, and
//! using one (which starts a portal session). The tokens themselves are
//! `auth::portal`'s; the email is `notify::email::portal_link`'s. What the
//! portal shows and does is `billing::portal`. See docs/portal.md.

use chrono::{Duration, Utc};
use sea_orm::EntityTrait;
use sha2::{Digest, Sha256};

use crate::auth::portal::{self as tokens, LinkSource, LinkState, NewLink, Used};
use crate::auth::throttle;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::notify::email::from_events::Queueing;
use crate::notify::email::portal_link;
use crate::store::{self, customers, merchants, portal_links};

/// Link requests counted per email address (per merchant) in
/// [`REQUEST_WINDOW`]; past it, refused until the window ends.
pub const REQUESTS_PER_EMAIL: u32 = 5;
/// Link requests counted per client address in [`REQUEST_WINDOW`].
pub const REQUESTS_PER_ADDRESS: u32 = 30;
pub const REQUEST_WINDOW: Duration = Duration::minutes(15);
/// Customers of one merchant sharing an address each get a link, up to this many.
const MAX_LINKS_PER_REQUEST: u64 = 3;

/// The merchant whose portal page `id` is, or NotFound.
pub async fn merchant(state: &Context, id: &str) -> Result<merchants::Model> {
    merchants::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| Error::not_found("merchant", id))
}

/// How a link request ended. The answer shown is the same whether or not a
/// customer has the address, so nobody learns who is a customer.
#[derive(Debug)]
pub enum Requested {
    /// Taken: any customer of the merchant with that address gets a link.
    Taken,
    /// Too many requests for this address or from this client: try again
    /// after the wait.
    Throttled(Duration),
}

/// A customer asks for a sign-in link on the merchant's portal page: the
/// typed address is validated as the API validates customers' emails; the
/// request is counted per address and per client (`client`, an IP address);
/// every live customer of the merchant with that address (see
/// `catalog::customers::find_by_email`) gets a link by email, at the
/// address the merchant has for them. Without SMTP settings no link is made.
pub async fn request_by_email(
    state: &Context,
    merchant_id: &str,
    email: &str,
    client: &str,
) -> Result<Requested> {
    let merchant = merchant(state, merchant_id).await?;
    let email = super::customers::parse_email(email)?;
    let wall = Utc::now();
    let keys = [
        (email_key(&merchant.id, email.as_str()), REQUESTS_PER_EMAIL),
        (format!("portal-address:{client}"), REQUESTS_PER_ADDRESS),
    ];
    for (key, limit) in &keys {
        if let Some(wait) = throttle::over(&state.db, wall, REQUEST_WINDOW, *limit, key).await? {
            return Ok(Requested::Throttled(wait));
        }
    }
    for (key, _) in keys {
        throttle::count(&state.db, wall, REQUEST_WINDOW, key).await?;
    }
    let Some(queueing) = Queueing::from_settings(&state.settings) else {
        tracing::warn!(merchant = %merchant.id, "portal: no [smtp] settings on a real network, no sign-in link sent");
        return Ok(Requested::Taken);
    };
    let found =
        super::customers::find_by_email(&state.db, &merchant.id, &email, MAX_LINKS_PER_REQUEST)
            .await?;
    if found.is_empty() {
        return Ok(Requested::Taken);
    }
    email_links(state, &queueing, &merchant, &found, LinkSource::Email).await?;
    tracing::info!(merchant = %merchant.id, links = found.len(), "portal: sign-in links queued");
    Ok(Requested::Taken)
}

/// The throttle key of an address at a merchant: a hash, so addresses typed
/// by anyone are not kept in clear.
fn email_key(merchant_id: &str, email: &str) -> String {
    let mut h = Sha256::new();
    h.update(merchant_id.as_bytes());
    h.update(b"\0");
    h.update(email.to_ascii_lowercase().as_bytes());
    format!("portal-email:{}", hex::encode(h.finalize()))
}

/// A link the merchant makes through the API for its customer `customer_id`
/// (NotFound for another merchant's): the URL is answered once.
pub async fn create_for_customer(
    state: &Context,
    merchant_id: &str,
    customer_id: &str,
) -> Result<(String, NewLink)> {
    let customer = super::customers::get(&state.db, merchant_id, customer_id).await?;
    let now = state.clocks.now_for(&state.db, merchant_id).await?;
    let link =
        tokens::create_link(&state.db, now, merchant_id, &customer.id, LinkSource::Api).await?;
    Ok((customer.id, link))
}

/// The merchant's user emails its customer `customer_id` a sign-in link
/// (from the dashboard; the link is not shown to the merchant). Conflict
/// when the customer has no email address or the deployment sends no
/// email; NotFound for another merchant's customer.
pub async fn email_to_customer(
    state: &Context,
    merchant_id: &str,
    customer_id: &str,
) -> Result<customers::Model> {
    let merchant = merchant(state, merchant_id).await?;
    let customer = super::customers::get(&state.db, merchant_id, customer_id).await?;
    if customer.email.is_none() {
        return Err(Error::conflict(
            "customer_has_no_email",
            "This customer has no email address: add one through the API first.",
        ));
    }
    let Some(queueing) = Queueing::from_settings(&state.settings) else {
        return Err(Error::conflict(
            "email_not_configured",
            "This deployment sends no email (it has no [smtp] settings).",
        ));
    };
    email_links(
        state,
        &queueing,
        &merchant,
        std::slice::from_ref(&customer),
        LinkSource::Dashboard,
    )
    .await?;
    tracing::info!(merchant = %merchant.id, customer = %customer.id, "portal: sign-in link queued from the dashboard");
    Ok(customer)
}

/// Makes a link for each of the merchant's `customers` and queues its
/// email, in one transaction, dated by the merchant's clock.
async fn email_links(
    state: &Context,
    queueing: &Queueing,
    merchant: &merchants::Model,
    customers: &[customers::Model],
    source: LinkSource,
) -> Result<()> {
    let now = state.clocks.now_for(&state.db, &merchant.id).await?;
    let txn = store::begin_write(&state.db).await?;
    for customer in customers {
        let link = tokens::create_link(&txn, now, &merchant.id, &customer.id, source).await?;
        portal_link::queue(
            &txn,
            state.clocks.now(),
            &queueing.base_url,
            merchant,
            customer,
            &link.token,
            link.expires_at,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The URL of a sign-in link.
pub fn login_url(state: &Context, token: &str) -> String {
    portal_link::login_url(&state.settings.app.base_url, token)
}

/// A link as its page shows it before it is used.
#[derive(Debug)]
pub struct Link {
    pub link: portal_links::Model,
    pub merchant: merchants::Model,
    pub state: LinkState,
}

/// The link behind `token` and whether it can still sign in (on its
/// merchant's clock); `None` for an unknown one.
pub async fn link(state: &Context, token: &str) -> Result<Option<Link>> {
    let Some(link) = tokens::find_link(&state.db, token).await? else {
        return Ok(None);
    };
    let merchant = merchant(state, &link.merchant_id).await?;
    let now = state.clocks.now_for(&state.db, &merchant.id).await?;
    Ok(Some(Link {
        state: tokens::link_state(&link, now),
        link,
        merchant,
    }))
}

/// What using a link gave.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the session's token, for the cookie only.
    Session(String),
    /// Used already or expired: the merchant, to offer a new link.
    Refused(LinkState, merchants::Model),
    Unknown,
}

/// Uses the link behind `token`: once, before it expires.
pub async fn sign_in(state: &Context, token: &str) -> Result<SignIn> {
    let Some(found) = link(state, token).await? else {
        return Ok(SignIn::Unknown);
    };
    let now = state.clocks.now_for(&state.db, &found.merchant.id).await?;
    Ok(
        match tokens::use_link(&state.db, now, Utc::now(), &found.link).await? {
            Used::SignedIn { session_token } => SignIn::Session(session_token),
            Used::Refused(why) => SignIn::Refused(why, found.merchant),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttle_key_hides_the_address_and_ignores_case() {
        let a = email_key("mer_1", "Alice@example.com");
        assert_eq!(a, email_key("mer_1", "alice@EXAMPLE.com"));
        assert_ne!(a, email_key("mer_2", "alice@example.com"));
        assert!(!a.contains("alice"));
        assert!(a.len() <= 320);
    }
}
