//! The customer portal's sign-in: single-use links and sessions.
//!
//! - A link's URL (`/portal/login/{token}`) holds a random token (32 bytes,
//!   base64url, as [`sessions::new_token`] makes them); the database holds
//!   its SHA-256, the merchant and customer it signs in as, and its expiry:
//!   [`LINK_LIFETIME`] after it was made, on the merchant's clock (billing
//!   time, which the sandbox moves). It can be used once.
//! - Using a link starts a session: another random token in a cookie, its
//!   SHA-256 in `portal_sessions`, bound to the link's merchant and
//!   customer, ending [`SESSION_LIFETIME`] after sign-in (wall-clock time,
//!   like the dashboard's sessions). Its forms' CSRF token is derived from
//!   its token ([`sessions::csrf_token`]).
//!
//! Tokens are never logged.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use super::sessions::{hash, new_token, well_formed};
use crate::domain::ids::{PortalLinkId, PortalSessionId};
use crate::error::Result;
use crate::store::{self, customers, merchants, portal_links, portal_sessions};

/// How long a sign-in link can be used, on the merchant's clock.
pub const LINK_LIFETIME: Duration = Duration::minutes(15);
/// How long a portal session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::hours(1);

/// Who asked for a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSource {
    /// The customer, on the merchant's portal page (sent by email).
    Email,
    /// The merchant, through `POST /v1/customers/{id}/portal_links`.
    Api,
    /// A merchant's user, with the dashboard's "Email a portal link" (sent
    /// by email to the customer; the dashboard never shows it).
    Dashboard,
}

impl LinkSource {
    fn as_str(self) -> &'static str {
        match self {
            LinkSource::Email => "email",
            LinkSource::Api => "api",
            LinkSource::Dashboard => "dashboard",
        }
    }
}

/// A new link: the token goes into the URL and nowhere else.
#[derive(Debug, Clone)]
pub struct NewLink {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Makes a sign-in link for the merchant's customer (the caller checked the
/// customer is the merchant's); `now` is the merchant's time.
pub async fn create_link(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    customer_id: &str,
    source: LinkSource,
) -> Result<NewLink> {
    let token = new_token();
    let expires_at = now + LINK_LIFETIME;
    portal_links::Entity::insert(portal_links::ActiveModel {
        id: Set(PortalLinkId::new().to_string()),
        token_hash: Set(hash(&token)),
        merchant_id: Set(merchant_id.to_owned()),
        customer_id: Set(customer_id.to_owned()),
        source: Set(source.as_str().to_owned()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(NewLink { token, expires_at })
}

/// The link behind `token`, used or not; `None` for an unknown or
/// malformed one (no query is made for a token that cannot be one).
pub async fn find_link(
    db: &impl ConnectionTrait,
    token: &str,
) -> Result<Option<portal_links::Model>> {
    if !well_formed(token) {
        return Ok(None);
    }
    Ok(portal_links::Entity::find()
        .filter(portal_links::Column::TokenHash.eq(hash(token)))
        .one(db)
        .await?)
}

/// Whether a link can still sign in at `now` (the merchant's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Usable,
    Used,
    Expired,
}

pub fn link_state(link: &portal_links::Model, now: DateTime<Utc>) -> LinkState {
    if link.used_at.is_some() {
        LinkState::Used
    } else if link.expires_at <= now {
        LinkState::Expired
    } else {
        LinkState::Usable
    }
}

/// What using a link gave.
#[derive(Debug)]
pub enum Used {
    /// A session: its token goes into the cookie and nowhere else.
    SignedIn { session_token: String },
    /// The link was used already, has expired, or its customer is gone.
    Refused(LinkState),
}

/// Uses `link` at `now` (the merchant's time): marks it used and starts a
/// session at `wall` (wall-clock time) in one transaction. The mark is one
/// conditional statement, so of two concurrent uses only one signs in.
pub async fn use_link(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    wall: DateTime<Utc>,
    link: &portal_links::Model,
) -> Result<Used> {
    let state = link_state(link, now);
    if state != LinkState::Usable {
        return Ok(Used::Refused(state));
    }
    let txn = store::begin_write(db).await?;
    let marked = portal_links::Entity::update_many()
        .col_expr(portal_links::Column::UsedAt, Expr::value(now))
        .filter(portal_links::Column::Id.eq(&link.id))
        .filter(portal_links::Column::UsedAt.is_null())
        .filter(portal_links::Column::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Ok(Used::Refused(LinkState::Used));
    }
    if live_customer(&txn, &link.merchant_id, &link.customer_id)
        .await?
        .is_none()
    {
        txn.commit().await?;
        return Ok(Used::Refused(LinkState::Used));
    }
    let session_token = new_token();
    portal_sessions::Entity::insert(portal_sessions::ActiveModel {
        id: Set(PortalSessionId::new().to_string()),
        token_hash: Set(hash(&session_token)),
        merchant_id: Set(link.merchant_id.clone()),
        customer_id: Set(link.customer_id.clone()),
        created_at: Set(wall),
        expires_at: Set(wall + SESSION_LIFETIME),
    })
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(Used::SignedIn { session_token })
}

/// A signed-in customer.
#[derive(Debug, Clone)]
pub struct PortalSession {
    pub session_id: String,
    pub merchant: merchants::Model,
    pub customer: customers::Model,
}

/// The live session behind `token` at `wall` (wall-clock time), `None` for
/// an unknown, malformed or expired one, or one whose customer was deleted.
pub async fn find_session(
    db: &impl ConnectionTrait,
    wall: DateTime<Utc>,
    token: &str,
) -> Result<Option<PortalSession>> {
    if !well_formed(token) {
        return Ok(None);
    }
    let Some(session) = portal_sessions::Entity::find()
        .filter(portal_sessions::Column::TokenHash.eq(hash(token)))
        .filter(portal_sessions::Column::ExpiresAt.gt(wall))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let Some(customer) = live_customer(db, &session.merchant_id, &session.customer_id).await?
    else {
        return Ok(None);
    };
    let Some(merchant) = merchants::Entity::find_by_id(&session.merchant_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(PortalSession {
        session_id: session.id,
        merchant,
        customer,
    }))
}

/// Ends the session behind `token` (signing out); nothing for an unknown one.
pub async fn end_session(db: &impl ConnectionTrait, token: &str) -> Result<()> {
    if well_formed(token) {
        portal_sessions::Entity::delete_many()
            .filter(portal_sessions::Column::TokenHash.eq(hash(token)))
            .exec(db)
            .await?;
    }
    Ok(())
}

async fn live_customer(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    customer_id: &str,
) -> Result<Option<customers::Model>> {
    Ok(customers::Entity::find_by_id(customer_id)
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::DeletedAt.is_null())
        .one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(used: bool, expires_at: DateTime<Utc>) -> portal_links::Model {
        let t0 = expires_at - LINK_LIFETIME;
        portal_links::Model {
            id: "ptl_1".into(),
            token_hash: hash("x"),
            merchant_id: "mer_1".into(),
            customer_id: "cus_1".into(),
            source: "email".into(),
            created_at: t0,
            expires_at,
            used_at: used.then_some(t0),
        }
    }

    #[test]
    fn a_link_is_usable_once_and_until_fifteen_minutes_are_over() {
        let t0: DateTime<Utc> = "2027-12-01T00:00:00Z".parse().unwrap();
        let l = link(false, t0 + LINK_LIFETIME);
        assert_eq!(link_state(&l, t0), LinkState::Usable);
        assert_eq!(
            link_state(&l, t0 + Duration::minutes(15) - Duration::milliseconds(1)),
            LinkState::Usable
        );
        assert_eq!(
            link_state(&l, t0 + Duration::minutes(15)),
            LinkState::Expired
        );
        assert_eq!(
            link_state(&link(true, t0 + LINK_LIFETIME), t0),
            LinkState::Used
        );
    }
}
