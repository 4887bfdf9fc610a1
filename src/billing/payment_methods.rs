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

/// How a wallet is reached when it is connected.
pub struct WalletCheck<'a> {
    pub seal: &'a SealKey,
    pub network: bitcoin::Network,
    pub timeout: Duration,
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

/// Sets the payment method of the merchant's subscription.
/// `subscription.updated` is recorded with it.
pub async fn set(
    db: &DatabaseConnection,
    check: &WalletCheck<'_>,
    now: DateTime<Utc>,
    merchant_id: &str,
    subscription_id: &str,
    method: NewMethod,
) -> Result<WithMethod> {
    // Refuse before calling anyone's wallet.
    let current = super::lifecycle::get(db, merchant_id, subscription_id).await?;
    refuse_ended(&current)?;
    let checked = match &method {
        NewMethod::Nwc(uri) => Some((
            uri,
            wallet::check(uri, check.network, check.timeout)
                .await
                .map_err(refused)?,
        )),
        _ => None,
    };
    let txn = store::begin_write(db).await?;
    let mut sub = lock(&txn, merchant_id, subscription_id).await?;
    refuse_ended(&sub)?;
    remove_wallets(&txn, now, &sub.id).await?;
    let wallet = match checked {
        Some((uri, checked)) => {
            let id = WalletConnectionId::new().to_string();
            let row = connections::Model {
                secret_sealed: Some(check.seal.seal(&id, uri)),
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
    let method = match method {
        NewMethod::Push => PaymentMethod::Push,
        NewMethod::Manual => PaymentMethod::Manual,
        NewMethod::Nwc(_) => PaymentMethod::Nwc,
    };
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
