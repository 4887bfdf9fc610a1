//! A subscription's payment method (`push`, `nwc`, `manual`), as its
//! customer or the merchant sets it. Connecting a wallet checks it first
//! (`get_info`: it can `pay_invoice`, on this deployment's network), then
//! stores it sealed; any other change removes the wallet connection and
//! erases its secret. The open invoices then follow the new method at once:
//! their live payment requests are sent by it (a dunning-style ask).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use secrecy::SecretString;

use super::lifecycle::{lock, parse_status};
use super::{delivery, payment_requests};
use crate::context::Context;
use crate::domain::ids::WalletConnectionId;
use crate::domain::{
    EventType, InvoiceStatus, PaymentMethod, PaymentRequestStatus, WalletConnectionStatus,
};
use crate::error::{Error, Result};
use crate::nwc::seal::SealKey;
use crate::nwc::wallet::{self, ConnectError};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::wallet_connections as connections;
use crate::store::{self, customers, invoices, payment_requests as requests, subscriptions};

/// The payment method asked for.
pub enum NewMethod {
    Push,
    Manual,
    /// A `nostr+walletconnect://` URI (it holds the connection's secret).
    Nwc(SecretString),
}

/// The longest `nwc_uri` taken (a URI with a few relays is far shorter).
const MAX_URI_CHARS: usize = 2_000;

impl NewMethod {
    /// `method` (`push`, `nwc`, `manual`), with the URI for `nwc` only;
    /// errors name `method` or `nwc_uri` (and never quote the URI).
    pub fn parse(method: &str, nwc_uri: Option<String>) -> Result<NewMethod> {
        let method = PaymentMethod::parse(method)
            .map_err(|_| Error::invalid("method", "must be push, nwc or manual"))?;
        match (method, nwc_uri) {
            (PaymentMethod::Nwc, Some(uri)) if uri.chars().count() > MAX_URI_CHARS => Err(
                Error::invalid("nwc_uri", format!("at most {MAX_URI_CHARS} characters")),
            ),
            (PaymentMethod::Nwc, Some(uri)) => Ok(NewMethod::Nwc(SecretString::from(uri))),
            (PaymentMethod::Nwc, None) => Err(Error::invalid("nwc_uri", "required for nwc")),
            (_, Some(_)) => Err(Error::invalid("nwc_uri", "only for nwc")),
            (PaymentMethod::Push, None) => Ok(NewMethod::Push),
            (PaymentMethod::Manual, None) => Ok(NewMethod::Manual),
        }
    }
}

/// How a wallet is reached when it is connected.
pub struct WalletCheck<'a> {
    pub seal: &'a SealKey,
    pub network: bitcoin::Network,
    pub timeout: Duration,
    /// Relays on internal addresses (and plain ws://) are allowed.
    pub allow_private_relays: bool,
}

impl WalletCheck<'_> {
    /// This deployment's: its key, its network, `[nwc] connect_timeout_secs`.
    pub fn of(context: &Context) -> WalletCheck<'_> {
        WalletCheck {
            seal: &context.seal,
            network: context.settings.app.network.bitcoin(),
            timeout: Duration::from_secs(context.settings.nwc.connect_timeout_secs),
            allow_private_relays: context.settings.nwc_allow_private_relays(),
        }
    }
}

/// Whose subscription it must be: the merchant's (the API), or also one
/// customer's (the portal).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub merchant_id: &'a str,
    pub customer_id: Option<&'a str>,
}

impl Owner<'_> {
    fn check(&self, sub: subscriptions::Model) -> Result<subscriptions::Model> {
        match self.customer_id {
            Some(customer) if customer != sub.customer_id => {
                Err(Error::not_found("subscription", sub.id))
            }
            _ => Ok(sub),
        }
    }
}

/// A subscription with its payment method.
#[derive(Debug, Clone)]
pub struct WithMethod {
    pub subscription: subscriptions::Model,
    /// The active wallet connection, for `nwc`.
    pub wallet: Option<connections::Model>,
}

/// The subscription's payment method.
pub async fn get(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    subscription_id: &str,
) -> Result<WithMethod> {
    let subscription = super::lifecycle::get(db, merchant_id, subscription_id).await?;
    let wallet = connections::active_for(db, &subscription.id).await?;
    Ok(WithMethod {
        subscription,
        wallet,
    })
}

/// A payment method ready to be set: a wallet already checked.
pub struct Prepared {
    method: PaymentMethod,
    /// The URI and what the wallet said, for `nwc`.
    wallet: Option<(SecretString, wallet::Checked)>,
}

/// Checks the wallet of an `nwc` method (`get_info`); the others need nothing.
pub async fn prepare(check: &WalletCheck<'_>, method: NewMethod) -> Result<Prepared> {
    Ok(match method {
        NewMethod::Push => Prepared {
            method: PaymentMethod::Push,
            wallet: None,
        },
        NewMethod::Manual => Prepared {
            method: PaymentMethod::Manual,
            wallet: None,
        },
        NewMethod::Nwc(uri) => {
            let checked = wallet::check(
                &uri,
                check.network,
                check.timeout,
                check.allow_private_relays,
            )
            .await
            .map_err(refused)?;
            Prepared {
                method: PaymentMethod::Nwc,
                wallet: Some((uri, checked)),
            }
        }
    })
}

/// Sets the payment method of `owner`'s subscription: refuses an ended
/// subscription before calling anyone's wallet, then [`prepare`] and [`apply`].
pub async fn set(
    db: &DatabaseConnection,
    check: &WalletCheck<'_>,
    now: DateTime<Utc>,
    owner: Owner<'_>,
    subscription_id: &str,
    method: NewMethod,
) -> Result<WithMethod> {
    let current =
        owner.check(super::lifecycle::get(db, owner.merchant_id, subscription_id).await?)?;
    refuse_ended(&current)?;
    let prepared = prepare(check, method).await?;
    apply(db, check.seal, now, owner, subscription_id, prepared).await
}

/// Sets a prepared payment method on `owner`'s subscription, removing any
/// other wallet connection (its secret erased), with `subscription.updated`.
pub async fn apply(
    db: &DatabaseConnection,
    seal: &SealKey,
    now: DateTime<Utc>,
    owner: Owner<'_>,
    subscription_id: &str,
    prepared: Prepared,
) -> Result<WithMethod> {
    let txn = store::begin_write(db).await?;
    let mut sub = owner.check(lock(&txn, owner.merchant_id, subscription_id).await?)?;
    refuse_ended(&sub)?;
    remove_wallets(&txn, now, &sub.id).await?;
    let wallet = match prepared.wallet {
        Some((uri, checked)) => {
            let id = WalletConnectionId::new().to_string();
            let row = connections::Model {
                secret_sealed: Some(seal.seal(&id, &uri)),
                id,
                merchant_id: sub.merchant_id.clone(),
                customer_id: sub.customer_id.clone(),
                subscription_id: sub.id.clone(),
                status: WalletConnectionStatus::Active.as_str().to_owned(),
                wallet_pubkey: checked.wallet_pubkey,
                relays: serde_json::to_string(&checked.relays).unwrap_or_else(|_| "[]".into()),
                cipher: checked.cipher.as_str().to_owned(),
                wallet_alias: checked.alias,
                wallet_methods: serde_json::to_string(&checked.methods)
                    .unwrap_or_else(|_| "[]".into()),
                budget_total_msat: checked.budget.as_ref().map(|b| b.total_msat),
                budget_used_msat: checked.budget.as_ref().map(|b| b.used_msat),
                budget_renewal: checked.budget.and_then(|b| b.renewal),
                created_at: now,
                removed_at: None,
            };
            store::insert_all(
                &txn,
                vec![sea_orm::IntoActiveModel::into_active_model(row.clone())],
            )
            .await?;
            Some(row)
        }
        None => None,
    };
    let method = prepared.method;
    sub.payment_method = method.as_str().to_owned();
    sub.updated_at = now;
    subscriptions::Entity::update_many()
        .col_expr(
            subscriptions::Column::PaymentMethod,
            Expr::value(method.as_str()),
        )
        .col_expr(subscriptions::Column::UpdatedAt, Expr::value(now))
        .filter(subscriptions::Column::Id.eq(&sub.id))
        .exec(&txn)
        .await?;
    let mut events = EventBatch::new();
    follow_method(&txn, now, &sub, &mut events).await?;
    events.push(
        &sub.merchant_id,
        EventType::SubscriptionUpdated,
        "subscription",
        &sub.id,
        objects::Subscription::from(&sub),
        now,
    );
    events.insert(&txn).await?;
    txn.commit().await?;
    Ok(WithMethod {
        subscription: sub,
        wallet,
    })
}

fn refuse_ended(sub: &subscriptions::Model) -> Result<()> {
    match parse_status(sub)?.is_terminal() {
        true => Err(Error::conflict(
            "subscription_canceled",
            "a canceled subscription takes no payment method",
        )),
        false => Ok(()),
    }
}

/// A wallet that cannot be used, as a 400 naming the URI's field (never
/// quoting the URI).
fn refused(e: ConnectError) -> Error {
    Error::invalid("nwc_uri", e.to_string())
}

/// Removes the subscription's active wallet connections and erases their
/// secrets.
async fn remove_wallets(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    subscription_id: &str,
) -> Result<()> {
    connections::Entity::update_many()
        .col_expr(
            connections::Column::Status,
            Expr::value(WalletConnectionStatus::Removed.as_str()),
        )
        .col_expr(
            connections::Column::SecretSealed,
            Expr::value(Option::<String>::None),
        )
        .col_expr(connections::Column::RemovedAt, Expr::value(now))
        .filter(connections::Column::SubscriptionId.eq(subscription_id))
        .filter(connections::Column::Status.eq(WalletConnectionStatus::Active.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// The subscription's open invoices follow its (new) method: requests
/// still waiting for their BOLT11 are sent once issued when the method
/// sends; issued ones are asked for again by it (as a dunning retry).
async fn follow_method(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    sub: &subscriptions::Model,
    events: &mut EventBatch,
) -> Result<()> {
    let open = invoices::Entity::find()
        .filter(invoices::Column::SubscriptionId.eq(&sub.id))
        .filter(invoices::Column::Status.eq(InvoiceStatus::Open.as_str()))
        .all(db)
        .await?;
    if open.is_empty() {
        return Ok(());
    }
    let node = customers::Entity::find_by_id(&sub.customer_id)
        .one(db)
        .await?
        .and_then(|c| c.node_id);
    let sends = delivery::sends(&sub.payment_method, node.as_deref());
    requests::Entity::update_many()
        .col_expr(requests::Column::Push, Expr::value(sends))
        .col_expr(requests::Column::UpdatedAt, Expr::value(now))
        .filter(requests::Column::InvoiceId.is_in(open.iter().map(|i| i.id.as_str())))
        .filter(requests::Column::Status.eq(PaymentRequestStatus::Pending.as_str()))
        .exec(db)
        .await?;
    if sends {
        for invoice in &open {
            payment_requests::retry(db, now, invoice, events).await?;
        }
    }
    Ok(())
}
