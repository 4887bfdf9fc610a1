//! Where a payment request goes to be paid without the customer acting: the
//! one owner of that choice. A subscription's invoices follow its payment
//! method: `push` goes to the customer's node (a customer without one pays
//! on the pay page), `nwc` to the subscription's active wallet connection
//! (none: the pay page), `manual` nowhere. A one-off invoice goes to the
//! customer's node. Each send is a row of the push queue (`push_attempts`)
//! with its rail.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::domain::{PaymentMethod, Rail};
use crate::error::Result;
use crate::store::{self, invoices, push_attempts, subscriptions, wallet_connections};

/// Where one payment request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The customer's node (its node id), by the push protocol.
    Node(String),
    /// A wallet connection, by NIP-47.
    Wallet {
        connection_id: String,
        wallet_pubkey: String,
    },
}

impl Target {
    /// The queued send of `request_id` (of `merchant_id`) to this target.
    pub fn queued(
        &self,
        merchant_id: &str,
        request_id: &str,
        now: DateTime<Utc>,
    ) -> push_attempts::ActiveModel {
        use sea_orm::ActiveValue::Set;
        match self {
            Target::Node(node_id) => push_attempts::queued(merchant_id, request_id, node_id, now),
            Target::Wallet {
                connection_id,
                wallet_pubkey,
            } => {
                let mut row = push_attempts::queued(merchant_id, request_id, wallet_pubkey, now);
                row.method = Set(Rail::Nwc.as_str().to_owned());
                row.wallet_connection_id = Set(Some(connection_id.clone()));
                row
            }
        }
    }
}

/// Whether a subscription's invoices are sent automatically, by its
/// payment method and the customer's node id (decided when the invoice's
/// payment request is made; [`targets`] decides where, when it is issued).
pub fn sends(payment_method: &str, customer_node: Option<&str>) -> bool {
    match PaymentMethod::parse(payment_method) {
        Ok(PaymentMethod::Push) => customer_node.is_some(),
        Ok(PaymentMethod::Nwc) => true,
        Ok(PaymentMethod::Manual) | Err(_) => false,
    }
}

/// Where each invoice's payment request goes (`customer_nodes`: the
/// customers' node ids); an invoice with no target is absent. Two queries
/// for the whole batch: the subscriptions, then their wallet connections.
pub async fn targets(
    db: &impl ConnectionTrait,
    invoices: &[&invoices::Model],
    customer_nodes: &HashMap<String, Option<String>>,
) -> Result<HashMap<String, Target>> {
    let subscriptions: HashMap<String, String> = store::find_by_ids::<subscriptions::Entity>(
        db,
        subscriptions::Column::Id,
        invoices.iter().filter_map(|i| i.subscription_id.as_deref()),
    )
    .await?
    .into_iter()
    .map(|s| (s.id, s.payment_method))
    .collect();
    let wallet_subs = subscriptions
        .iter()
        .filter(|(_, m)| m.as_str() == PaymentMethod::Nwc.as_str())
        .map(|(id, _)| id.as_str());
    let wallets: HashMap<String, wallet_connections::Model> =
        wallet_connections::active_for_all(db, wallet_subs)
            .await?
            .into_iter()
            .map(|c| (c.subscription_id.clone(), c))
            .collect();
    let mut out = HashMap::new();
    for invoice in invoices {
        let node = customer_nodes.get(&invoice.customer_id).cloned().flatten();
        let method = invoice
            .subscription_id
            .as_ref()
            .and_then(|s| subscriptions.get(s))
            .map_or(PaymentMethod::Push.as_str(), String::as_str);
        let target = match PaymentMethod::parse(method) {
            Ok(PaymentMethod::Push) => node.map(Target::Node),
            Ok(PaymentMethod::Nwc) => invoice
                .subscription_id
                .as_ref()
                .and_then(|s| wallets.get(s))
                .map(|c| Target::Wallet {
                    connection_id: c.id.clone(),
                    wallet_pubkey: c.wallet_pubkey.clone(),
                }),
            Ok(PaymentMethod::Manual) | Err(_) => None,
        };
        if let Some(target) = target {
            out.insert(invoice.id.clone(), target);
        }
    }
    Ok(out)
}

/// Where one invoice's payment request goes.
pub async fn target(
    db: &impl ConnectionTrait,
    invoice: &invoices::Model,
    customer_node: Option<String>,
) -> Result<Option<Target>> {
    let nodes = HashMap::from([(invoice.customer_id.clone(), customer_node)]);
    Ok(targets(db, &[invoice], &nodes).await?.remove(&invoice.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_sends_automatically() {
        assert!(sends("push", Some("02ab")));
        assert!(!sends("push", None));
        assert!(sends("nwc", None));
        assert!(sends("nwc", Some("02ab")));
        assert!(!sends("manual", Some("02ab")));
        assert!(!sends("bogus", Some("02ab")));
    }
}
