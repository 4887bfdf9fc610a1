//! Dashboard accounts: signing up (a merchant and its first user), signing
//! in (throttled), and inviting teammates to the same merchant with a
//! single-use, expiring link. Emails are accounts' names, compared in lower
//! case. Passwords and tokens are never logged.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, SqlErr};

use crate::auth::passwords;
use crate::auth::sessions;
use crate::auth::throttle::{self, Limits};
use crate::catalog;
use crate::domain::EmailAddress;
use crate::domain::ids::{InviteId, UserId};
use crate::error::{Error, Result};
use crate::store::{self, dashboard_invites, merchant_users, merchants};

pub const OWNER: &str = "owner";
pub const MEMBER: &str = "member";

/// An account's email, parsed and lower-cased, or an error naming `field`.
pub fn account_email(field: &str, email: &str) -> Result<String> {
    EmailAddress::parse(email)
        .map(|e| e.to_string().to_lowercase())
        .map_err(|e| Error::invalid(field, e.to_string()))
}

#[derive(Debug, Clone)]
pub struct SignUp {
    pub business_name: String,
    pub email: String,
    pub password: String,
}

/// Creates a merchant and its first user (the owner) in one transaction.
/// The invoice prefix comes from the business name (`Bobflix` -> `BOBFLIX`).
pub async fn sign_up(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    form: SignUp,
) -> Result<(merchants::Model, merchant_users::Model)> {
    let email = account_email("email", &form.email)?;
    passwords::check("password", &form.password)?;
    let name = form.business_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid(
            "business_name",
            "must be 1 to 200 characters",
        ));
    }
    let hash = passwords::hash(&form.password).await?;
    let txn = store::begin_write(db).await?;
    ensure_no_account(&txn, &email).await?;
    let merchant = catalog::merchants::create(&txn, now, name, &invoice_prefix(name))
        .await
        .map_err(|e| match e {
            Error::Invalid { param, message } if param == "name" => {
                Error::invalid("business_name", message)
            }
            other => other,
        })?;
    let user = insert_user(&txn, now, &merchant.id, &email, hash, OWNER).await?;
    txn.commit().await?;
    Ok((merchant, user))
}

/// Up to 8 letters or digits of the name, upper-cased (`INV` when none).
fn invoice_prefix(name: &str) -> String {
    let prefix: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .take(8)
        .collect();
    if prefix.is_empty() {
        "INV".to_owned()
    } else {
        prefix
    }
}

async fn ensure_no_account(db: &impl ConnectionTrait, email: &str) -> Result<()> {
    let existing = merchant_users::Entity::find()
        .filter(merchant_users::Column::Email.eq(email))
        .one(db)
        .await?;
    if existing.is_some() {
        return Err(Error::invalid(
            "email",
            "an account with this email exists: sign in instead",
        ));
    }
    Ok(())
}

async fn insert_user(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    email: &str,
    password_hash: String,
    role: &str,
) -> Result<merchant_users::Model> {
    let row = merchant_users::Model {
        id: UserId::new().to_string(),
        merchant_id: merchant_id.to_owned(),
        email: email.to_owned(),
        password_hash,
        role: role.to_owned(),
        created_at: now,
        updated_at: now,
    };
    merchant_users::Entity::insert(merchant_users::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await
        .map_err(|e| match e.sql_err() {
            // A concurrent sign-up with the same email.
            Some(SqlErr::UniqueConstraintViolation(_)) => Error::invalid(
                "email",
                "an account with this email exists: sign in instead",
            ),
            _ => Error::from(e),
        })?;
    Ok(row)
}

/// How a sign-in went.
#[derive(Debug)]
pub enum SignIn {
    /// A new session: its token goes into the cookie.
    Started { token: String },
    /// Wrong email or password (which one is not said).
    Refused,
    /// Too many failures for this account or address: try again after `wait`.
    Throttled { wait: Duration },
}

/// Signs in: checks the throttle, then the password, and starts a session.
/// `address` is the client's IP address.
#[allow(clippy::too_many_arguments)]
pub async fn sign_in(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    limits: &Limits,
    session_lifetime: Duration,
    email: &str,
    password: &str,
    address: &str,
) -> Result<SignIn> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::invalid("email", "enter your email"));
    }
    if password.is_empty() {
        return Err(Error::invalid("password", "enter your password"));
    }
    if password.chars().count() > passwords::MAX_LEN || email.len() > 320 {
        return Ok(SignIn::Refused);
    }
    if let Some(wait) = throttle::blocked(db, now, limits, &email, address).await? {
        return Ok(SignIn::Throttled { wait });
    }
    let user = merchant_users::Entity::find()
        .filter(merchant_users::Column::Email.eq(&email))
        .one(db)
        .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let Some(user) = user else {
        passwords::verify(password, None).await;
        throttle::record_failure(db, now, limits, &email, address).await?;
        return Ok(SignIn::Refused);
    };
    if !passwords::verify(password, stored).await {
        throttle::record_failure(db, now, limits, &email, address).await?;
        return Ok(SignIn::Refused);
    }
    throttle::clear_account(db, &email).await?;
    let token = sessions::start(db, now, &user, session_lifetime).await?;
    tracing::info!(user = %user.id, merchant = %user.merchant_id, "dashboard sign-in");
    Ok(SignIn::Started { token })
}

/// An invitation just made: the only time its link's token is known.
pub struct CreatedInvite {
    pub invite: dashboard_invites::Model,
    pub token: String,
}

impl std::fmt::Debug for CreatedInvite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedInvite")
            .field("invite", &self.invite)
            .field("token", &"[REDACTED]")
            .finish()
    }
}

/// Invites `email` to the inviter's merchant; the link works once, until
/// `lifetime` has passed.
pub async fn invite(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    inviter: &merchant_users::Model,
    email: &str,
    lifetime: Duration,
) -> Result<CreatedInvite> {
    let email = account_email("email", email)?;
    ensure_no_account(db, &email).await?;
    let token = sessions::new_token();
    let row = dashboard_invites::Model {
        id: InviteId::new().to_string(),
        merchant_id: inviter.merchant_id.clone(),
        email,
        token_hash: sessions::hash(&token),
        invited_by: inviter.id.clone(),
        created_at: now,
        expires_at: now + lifetime,
        accepted_at: None,
    };
    dashboard_invites::Entity::insert(dashboard_invites::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(CreatedInvite { invite: row, token })
}

/// The merchant's invitations not yet taken, newest first.
pub async fn open_invites(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
) -> Result<Vec<dashboard_invites::Model>> {
    use sea_orm::{QueryOrder, QuerySelect};
    Ok(dashboard_invites::Entity::find()
        .filter(dashboard_invites::Column::MerchantId.eq(merchant_id))
        .filter(dashboard_invites::Column::AcceptedAt.is_null())
        .filter(dashboard_invites::Column::ExpiresAt.gt(now))
        .order_by_desc(dashboard_invites::Column::Id)
        .limit(50)
        .all(db)
        .await?)
}

/// The merchant's users, oldest first.
pub async fn team(
    db: &impl ConnectionTrait,
    merchant_id: &str,
) -> Result<Vec<merchant_users::Model>> {
    use sea_orm::QueryOrder;
    Ok(merchant_users::Entity::find()
        .filter(merchant_users::Column::MerchantId.eq(merchant_id))
        .order_by_asc(merchant_users::Column::Id)
        .all(db)
        .await?)
}

/// The open invitation behind a link's token and its merchant; `None` for
/// an unknown, used or expired one.
pub async fn find_invite(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    token: &str,
) -> Result<Option<(dashboard_invites::Model, merchants::Model)>> {
    if !sessions::well_formed(token) {
        return Ok(None);
    }
    let Some(invite) = dashboard_invites::Entity::find()
        .filter(dashboard_invites::Column::TokenHash.eq(sessions::hash(token)))
        .filter(dashboard_invites::Column::AcceptedAt.is_null())
        .filter(dashboard_invites::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let merchant = merchants::Entity::find_by_id(&invite.merchant_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::corrupt(format!("invite {}: merchant missing", invite.id)))?;
    Ok(Some((invite, merchant)))
}

/// Takes an invitation: creates the teammate's user with `password` and
/// starts their session. NotFound when the link is unknown, used or
/// expired (also when two browsers race for it: one wins).
pub async fn accept_invite(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    token: &str,
    password: &str,
    session_lifetime: Duration,
) -> Result<String> {
    passwords::check("password", password)?;
    let hash = passwords::hash(password).await?;
    let txn = store::begin_write(db).await?;
    let Some((invite, merchant)) = find_invite(&txn, now, token).await? else {
        return Err(Error::not_found("invite", "link"));
    };
    let taken = dashboard_invites::Entity::update_many()
        .col_expr(dashboard_invites::Column::AcceptedAt, now.into())
        .filter(dashboard_invites::Column::Id.eq(&invite.id))
        .filter(dashboard_invites::Column::AcceptedAt.is_null())
        .exec(&txn)
        .await?;
    if taken.rows_affected != 1 {
        return Err(Error::not_found("invite", "link"));
    }
    ensure_no_account(&txn, &invite.email).await?;
    let user = insert_user(&txn, now, &merchant.id, &invite.email, hash, MEMBER).await?;
    let token = sessions::start(&txn, now, &user, session_lifetime).await?;
    txn.commit().await?;
    tracing::info!(user = %user.id, merchant = %merchant.id, "dashboard invitation taken");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invoice_prefix_comes_from_the_name() {
        assert_eq!(invoice_prefix("Bobflix"), "BOBFLIX");
        assert_eq!(invoice_prefix("Bob's Streaming Co"), "BOBSSTRE");
        assert_eq!(invoice_prefix("日本"), "INV");
    }
}
