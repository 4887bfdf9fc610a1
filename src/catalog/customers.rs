//! Customers: who subscriptions bill. Every change writes its event
//! (customer.created, .updated, .deleted) in the same transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, SqlErr,
};
use serde_json::Value;

use crate::domain::ids::CustomerId;
use crate::domain::{EmailAddress, EventType, NodeAddress, NodeId, SubscriptionStatus};
use crate::error::{Error, Result};
use crate::objects;
use crate::store::events::EventBatch;
use crate::store::page::{self, Page, PageParams};
use crate::store::{self, customers, subscriptions};

/// A customer as the merchant describes them, already parsed into domain types.
#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub email: Option<EmailAddress>,
    pub name: Option<String>,
    pub external_id: Option<String>,
    /// The node that push invoices go to.
    pub node_id: Option<NodeId>,
    /// Where to reach that node; its node id must match `node_id` when both are given.
    pub node_address: Option<NodeAddress>,
    pub metadata: Option<Value>,
}

pub async fn create(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    customer: NewCustomer,
) -> Result<customers::Model> {
    let txn = store::begin_write(db).await?;
    let row = create_in(&txn, now, merchant_id, customer, false).await?;
    txn.commit().await?;
    Ok(row)
}

/// [`create`] inside the caller's transaction; `node_id_verified` when a
/// subscribe handshake proved the node id.
pub async fn create_in(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    customer: NewCustomer,
    node_id_verified: bool,
) -> Result<customers::Model> {
    let node_id = match (&customer.node_id, &customer.node_address) {
        (Some(id), Some(addr)) if *id != addr.node_id => {
            return Err(Error::invalid(
                "node_address",
                "its node id differs from `node_id`",
            ));
        }
        (Some(id), _) => Some(id.to_string()),
        (None, Some(addr)) => Some(addr.node_id.to_string()),
        (None, None) => None,
    };
    check_name(customer.name.as_deref())?;
    check_external_id(customer.external_id.as_deref())?;
    let metadata = super::merge_metadata(&serde_json::json!({}), customer.metadata)?;
    let node_id_verified = node_id_verified && node_id.is_some();
    let row = customers::Model {
        id: CustomerId::new().to_string(),
        merchant_id: merchant_id.to_owned(),
        email: customer.email.map(|e| e.to_string()),
        name: customer.name,
        external_id: customer.external_id,
        node_id,
        node_address: customer.node_address.map(|a| a.to_string()),
        // A node id typed in is not proven: only a subscribe handshake proves one.
        node_id_verified,
        metadata,
        balance_msat: 0,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    };
    check_external_id_free(txn, &row).await?;
    let active: customers::ActiveModel = row.clone().into();
    customers::Entity::insert(active)
        .exec_without_returning(txn)
        .await
        .map_err(external_id_conflict)?;
    record(txn, now, &row, EventType::CustomerCreated).await?;
    Ok(row)
}

/// The merchant's live customer whose node id a subscribe handshake proved
/// to be `node_id` (the newest, if several).
pub async fn find_verified(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    node_id: &NodeId,
) -> Result<Option<customers::Model>> {
    use sea_orm::QueryOrder;
    Ok(customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::NodeId.eq(node_id.to_string()))
        .filter(customers::Column::NodeIdVerified.eq(true))
        .filter(customers::Column::DeletedAt.is_null())
        .order_by_desc(customers::Column::Id)
        .one(db)
        .await?)
}

/// The merchant's newest live customers whose node a subscribe handshake
/// proved (the sandbox page's subscribers), at most `limit`.
pub async fn with_verified_node(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    limit: u64,
) -> Result<Vec<customers::Model>> {
    use sea_orm::{QueryOrder, QuerySelect};
    Ok(customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::NodeIdVerified.eq(true))
        .filter(customers::Column::DeletedAt.is_null())
        .order_by_desc(customers::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// Sets the node a subscribe handshake proved (and the address it shared,
/// when it shared one) on the merchant's customer `id`: `customer.updated`
/// when that changed anything.
pub async fn verify_node_in(
    txn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    node_id: &NodeId,
    node_address: Option<NodeAddress>,
) -> Result<customers::Model> {
    let mut row = get(txn, merchant_id, id).await?;
    let before = row.clone();
    let address = match node_address {
        Some(a) => Some(a.to_string()),
        // An address for another node than the proven one no longer applies.
        None => row
            .node_address
            .clone()
            .filter(|a| NodeAddress::parse(a).is_ok_and(|a| a.node_id == *node_id)),
    };
    row.node_id = Some(node_id.to_string());
    row.node_address = address;
    row.node_id_verified = true;
    if row == before {
        return Ok(row);
    }
    row.updated_at = now;
    customers::save_details(txn, row.clone()).await?;
    record(txn, now, &row, EventType::CustomerUpdated).await?;
    Ok(row)
}

/// The merchant's live customer, or NotFound (also for another merchant's).
pub async fn get(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    id: &str,
) -> Result<customers::Model> {
    customers::Entity::find_by_id(id)
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("customer", id))
}

/// The merchant's live customers, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    page: &PageParams,
) -> Result<Page<customers::Model>> {
    let select = customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::DeletedAt.is_null());
    Ok(page::fetch(db, select, customers::Column::Id, page).await?)
}

/// The merchant's live customers whose email or name starts with `query`
/// (any case), or whose id or external id is `query`, by id. When the
/// email and name prefixes match few customers, their index ranges find
/// them; when they match many, the merchant's customers are walked by id
/// until a page is full. Either way a page reads a bounded number of rows.
pub async fn search(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    query: &str,
    page: &PageParams,
) -> Result<Page<customers::Model>> {
    use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr};
    let query = query.trim();
    if query.chars().count() > 200 {
        return Err(Error::invalid("q", "at most 200 characters"));
    }
    let prefix = query.to_lowercase();
    let mut candidates = Vec::new();
    for column in ["email", "name"] {
        candidates.extend(prefix_candidates(db, merchant_id, column, &prefix).await?);
    }
    let matching = if candidates.len() <= SEARCH_CANDIDATES {
        // Few matches: the index ranges found them all, and the id and the
        // reference are one index lookup each; sort those by id.
        for column in [customers::Column::Id, customers::Column::ExternalId] {
            let exact = customers::Entity::find()
                .filter(customers::Column::MerchantId.eq(merchant_id))
                .filter(column.eq(query))
                .one(db)
                .await?;
            candidates.extend(exact.map(|c| c.id));
        }
        Condition::all().add(customers::Column::Id.is_in(candidates))
    } else {
        // Many: walking the merchant's customers by id fills a page soon.
        let escaped: String = prefix
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = || LikeExpr::new(format!("{escaped}%")).escape('\\');
        let lower = |c: customers::Column| Expr::expr(Func::lower(Expr::col(c)));
        Condition::any()
            .add(customers::Column::Id.eq(query))
            .add(customers::Column::ExternalId.eq(query))
            .add(lower(customers::Column::Email).like(pattern()))
            .add(lower(customers::Column::Name).like(pattern()))
    };
    let select = customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(customers::Column::DeletedAt.is_null())
        .filter(matching);
    Ok(page::fetch(db, select, customers::Column::Id, page).await?)
}

/// Past this many prefix matches of the email or the name, a search walks
/// the merchant's customers by id instead of sorting its matches.
const SEARCH_CANDIDATES: usize = 1_000;

/// The ids of the merchant's customers whose lower-cased `column` (`email`
/// or `name`) starts with `prefix`, byte by byte, up to one more than
/// [`SEARCH_CANDIDATES`]: a range of the `(merchant_id, lower(column))`
/// index (migrations 33 and 37).
async fn prefix_candidates(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    column: &'static str,
    prefix: &str,
) -> Result<Vec<String>> {
    use sea_orm::{DbBackend, Statement};
    let limit = SEARCH_CANDIDATES as i64 + 1;
    // Every string starting with `prefix` sorts before `prefix` + U+10FFFF.
    let end = format!("{prefix}\u{10FFFF}");
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => format!(
            "SELECT id FROM customers WHERE merchant_id = $1 \
             AND lower({column}) COLLATE \"C\" >= $2 AND lower({column}) COLLATE \"C\" < $3 LIMIT $4"
        ),
        _ => format!(
            "SELECT id FROM customers WHERE merchant_id = ? \
             AND lower({column}) >= ? AND lower({column}) < ? LIMIT ?"
        ),
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [merchant_id.into(), prefix.into(), end.into(), limit.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get::<String>("", "id").map_err(Error::from))
        .collect()
}

/// Parses a customer's email as the API and the portal take it (errors
/// name the field `email`).
pub fn parse_email(s: &str) -> Result<EmailAddress> {
    EmailAddress::parse(s).map_err(|e| Error::invalid("email", e.to_string()))
}

/// The merchant's live customers whose email is `email`, ignoring the case
/// of ASCII letters in the whole address (the domain is stored lowercase;
/// the local part is compared without case too, see docs/portal.md),
/// newest first, at most `limit`. Indexed by `(merchant_id, lower(email))`;
/// the database's `lower` only narrows the candidates, the rule is applied
/// here so SQLite and PostgreSQL agree.
pub async fn find_by_email(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    email: &EmailAddress,
    limit: u64,
) -> Result<Vec<customers::Model>> {
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    use sea_orm::{QueryOrder, QuerySelect};
    let wanted = email.as_str().to_ascii_lowercase();
    let found = customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(merchant_id))
        .filter(Expr::expr(Func::lower(Expr::col(customers::Column::Email))).eq(wanted.clone()))
        .filter(customers::Column::DeletedAt.is_null())
        .order_by_desc(customers::Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .filter(|c| {
            c.email
                .as_deref()
                .is_some_and(|e| e.to_ascii_lowercase() == wanted)
        })
        .collect())
}

/// Sets the customer's email from what they typed (the portal's "Update
/// email"), validated as the API validates it.
pub async fn set_email(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    input: &str,
) -> Result<customers::Model> {
    let email = parse_email(input)?;
    update(
        db,
        now,
        merchant_id,
        id,
        CustomerUpdate {
            email: Some(Some(email)),
            ..CustomerUpdate::default()
        },
    )
    .await
}

/// A change to a customer: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct CustomerUpdate {
    pub email: Option<Option<EmailAddress>>,
    pub name: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
    pub node_id: Option<Option<NodeId>>,
    pub node_address: Option<Option<NodeAddress>>,
    /// Merged into the stored metadata; a key set to "" or null is removed.
    pub metadata: Option<Value>,
}

pub async fn update(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
    change: CustomerUpdate,
) -> Result<customers::Model> {
    let txn = store::begin_write(db).await?;
    let mut row = get(&txn, merchant_id, id).await?;
    if let Some(email) = change.email {
        row.email = email.map(|e| e.to_string());
    }
    if let Some(name) = change.name {
        check_name(name.as_deref())?;
        row.name = name;
    }
    if let Some(external_id) = change.external_id {
        check_external_id(external_id.as_deref())?;
        row.external_id = external_id;
    }
    apply_node(&mut row, change.node_id, change.node_address)?;
    if let Some(metadata) = change.metadata {
        row.metadata = super::merge_metadata(&row.metadata, Some(metadata))?;
    }
    row.updated_at = now;
    check_external_id_free(&txn, &row).await?;
    customers::save_details(&txn, row.clone())
        .await
        .map_err(external_id_conflict)?;
    record(&txn, now, &row, EventType::CustomerUpdated).await?;
    txn.commit().await?;
    Ok(row)
}

/// Soft-deletes a customer; refused while any of their subscriptions is not canceled.
pub async fn delete(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    merchant_id: &str,
    id: &str,
) -> Result<customers::Model> {
    let txn = store::begin_write(db).await?;
    let mut row = get(&txn, merchant_id, id).await?;
    let live = subscriptions::Entity::find()
        .filter(subscriptions::Column::CustomerId.eq(&row.id))
        .filter(subscriptions::Column::Status.ne(SubscriptionStatus::Canceled.as_str()))
        .count(&txn)
        .await?;
    if live > 0 {
        return Err(Error::conflict(
            "customer_has_subscriptions",
            format!(
                "the customer has {live} subscription(s) that are not canceled; cancel them first"
            ),
        ));
    }
    row.deleted_at = Some(now);
    row.updated_at = now;
    customers::save_details(&txn, row.clone()).await?;
    record(&txn, now, &row, EventType::CustomerDeleted).await?;
    txn.commit().await?;
    Ok(row)
}

/// Applies node changes, keeping `node_id` and `node_address` consistent:
/// a new address alone also sets the node id.
fn apply_node(
    row: &mut customers::Model,
    node_id: Option<Option<NodeId>>,
    node_address: Option<Option<NodeAddress>>,
) -> Result<()> {
    if node_id.is_none() && node_address.is_none() {
        return Ok(());
    }
    let address = match node_address {
        Some(a) => a,
        None => row
            .node_address
            .as_deref()
            .map(NodeAddress::parse)
            .transpose()
            .map_err(|e| Error::corrupt(format!("customer {}: {e}", row.id)))?,
    };
    let id = match (node_id, &address) {
        (Some(id), _) => id,
        (None, Some(a)) => Some(a.node_id),
        (None, None) => row
            .node_id
            .as_deref()
            .map(NodeId::parse)
            .transpose()
            .map_err(|e| Error::corrupt(format!("customer {}: {e}", row.id)))?,
    };
    match (&id, &address) {
        (Some(id), Some(a)) if *id != a.node_id => {
            return Err(Error::invalid(
                "node_address",
                "its node id differs from `node_id`",
            ));
        }
        (None, Some(_)) => {
            return Err(Error::invalid(
                "node_id",
                "cannot be cleared while `node_address` is set",
            ));
        }
        _ => {}
    }
    let id = id.map(|i| i.to_string());
    if id != row.node_id {
        // Another node than the one a handshake proved.
        row.node_id_verified = false;
    }
    row.node_id = id;
    row.node_address = address.map(|a| a.to_string());
    Ok(())
}

fn check_name(name: Option<&str>) -> Result<()> {
    if name.is_some_and(|n| n.chars().count() > 200) {
        return Err(Error::invalid("name", "at most 200 characters"));
    }
    Ok(())
}

fn check_external_id(external_id: Option<&str>) -> Result<()> {
    if external_id.is_some_and(|n| n.is_empty() || n.len() > 200) {
        return Err(Error::invalid("external_id", "must be 1 to 200 characters"));
    }
    Ok(())
}

/// External ids are unique per merchant (deleted customers included).
async fn check_external_id_free(db: &impl ConnectionTrait, row: &customers::Model) -> Result<()> {
    let Some(external_id) = &row.external_id else {
        return Ok(());
    };
    let taken = customers::Entity::find()
        .filter(customers::Column::MerchantId.eq(&row.merchant_id))
        .filter(customers::Column::ExternalId.eq(external_id))
        .filter(customers::Column::Id.ne(&row.id))
        .count(db)
        .await?;
    if taken > 0 {
        return Err(taken_error());
    }
    Ok(())
}

/// A concurrent writer won the race for the external id.
fn external_id_conflict(e: DbErr) -> Error {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => taken_error(),
        _ => e.into(),
    }
}

fn taken_error() -> Error {
    Error::conflict(
        "external_id_in_use",
        "another customer of this merchant has this `external_id`",
    )
}

async fn record(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    row: &customers::Model,
    event: EventType,
) -> Result<()> {
    let mut events = EventBatch::new();
    events.push(
        &row.merchant_id,
        event,
        "customer",
        &row.id,
        objects::Customer::from(row),
        now,
    );
    events.insert(db).await?;
    Ok(())
}
