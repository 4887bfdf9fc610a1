//! Subscribe codes: what a merchant hands a subscriber so that their node
//! asks this deployment's node for the terms (docs/push-invoices.md section
//! 4). `<code>@<node id>@<host:port>`; the node id and address are the node
//! role's, as it last recorded them.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};

use crate::domain::Msat;
use crate::error::{Error, Result};
use crate::store::{self, node_identity, subscribe_codes};
use push_protocol::grant::SubscribeCode;
use push_protocol::subscribe::Window;

/// What a code subscribes to.
#[derive(Debug, Clone)]
pub enum CodeFor {
    /// Each subscriber gets a customer and a subscription to the plan.
    Plan(String),
    /// Links the subscriber's node to this existing customer, once.
    Customer(String),
}

/// How long a code is valid unless asked otherwise.
pub const DEFAULT_EXPIRY: Duration = Duration::days(30);
pub const MAX_EXPIRY: Duration = Duration::days(365);

/// The cap per window the merchant suggests in the terms.
#[derive(Debug, Clone, Copy)]
pub struct Suggestion {
    pub cap_msat: Msat,
    pub window: Window,
}

/// A new code. An account code needs `suggestion` (there is no plan amount
/// to suggest a cap from); a plan code may override the plan's.
pub async fn create(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    code_for: CodeFor,
    suggestion: Option<Suggestion>,
    expires_in: Option<Duration>,
) -> Result<(subscribe_codes::Model, String)> {
    if let Some(s) = suggestion
        && s.cap_msat.as_u64() == 0
    {
        return Err(Error::invalid("cap_msat", "must be above 0"));
    }
    let expires_in = expires_in.unwrap_or(DEFAULT_EXPIRY);
    if expires_in < Duration::minutes(1) || expires_in > MAX_EXPIRY {
        return Err(Error::invalid(
            "expires_in_secs",
            "must be 60 seconds to 365 days",
        ));
    }
    let (plan_id, customer_id) = match code_for {
        CodeFor::Plan(id) => {
            let plan = super::plans::get(db, merchant_id, &id)
                .await
                .map_err(|_| Error::invalid("plan", format!("no such plan: {id}")))?;
            if plan.status != super::plans::ACTIVE {
                return Err(Error::invalid("plan", "the plan is archived"));
            }
            (Some(plan.id), None)
        }
        CodeFor::Customer(id) => {
            let customer = super::customers::get(db, merchant_id, &id)
                .await
                .map_err(|_| Error::invalid("customer", format!("no such customer: {id}")))?;
            if suggestion.is_none() {
                return Err(Error::invalid(
                    "cap_msat",
                    "an account code needs the cap to suggest (`cap_msat` and `window`)",
                ));
            }
            (None, Some(customer.id))
        }
    };
    let node = node(db).await?;
    let row = subscribe_codes::Model {
        code: SubscribeCode::random_code(),
        merchant_id: merchant_id.to_owned(),
        plan_id,
        customer_id,
        cap_msat: suggestion.map(|s| s.cap_msat.to_i64()),
        window: suggestion.map(|s| s.window.as_str().to_owned()),
        expires_at: now + expires_in,
        used_at: None,
        created_at: now,
    };
    let active: subscribe_codes::ActiveModel = row.clone().into();
    subscribe_codes::Entity::insert(active)
        .exec_without_returning(db)
        .await?;
    let full = SubscribeCode {
        code: row.code.clone(),
        node_id: node.node_id,
        address: node.address,
    };
    Ok((row, full.to_string()))
}

/// The whole code (`<code>@<node id>@<host:port>`) of a stored one.
pub async fn full(db: &impl ConnectionTrait, row: &subscribe_codes::Model) -> Result<String> {
    let node = node(db).await?;
    Ok(SubscribeCode {
        code: row.code.clone(),
        node_id: node.node_id,
        address: node.address,
    }
    .to_string())
}

/// The node subscribers connect to, as the node role recorded it.
async fn node(db: &impl ConnectionTrait) -> Result<node_identity::Model> {
    store::node_identity::get(db).await?.ok_or_else(|| {
        Error::conflict(
            "node_not_started",
            "the Lightning node has not started yet: a subscribe code names its node id and \
             address, known once the node role has run",
        )
    })
}
