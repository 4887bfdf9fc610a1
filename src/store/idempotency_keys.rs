//! The `idempotency_keys` table: one row per `Idempotency-Key` a merchant
//! sent. A request that writes claims its key inside its first write
//! transaction ([`super::begin_write`] calls [`claim_in`]), so the key
//! commits with the effect or not at all; the response is stored afterwards.

use std::cell::Cell;
use std::rc::Rc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, IntoActiveModel};

/// A key is forgotten this long after its first request.
pub const RETENTION_HOURS: i64 = 24;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub request_hash: String,
    /// `None` once the request's effect committed and until its response is
    /// stored (for ever when the process died in between).
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now - self.created_at > Duration::hours(RETENTION_HOURS)
    }
}

/// The request running under a key, for the write transactions it opens.
#[derive(Debug)]
pub struct KeyedRequest {
    merchant_id: String,
    key: String,
    request_hash: String,
    /// Wall-clock time: keys guard against network retries, which happen in
    /// real time even when the sandbox clock moves.
    now: DateTime<Utc>,
    claim: Rc<Cell<Claim>>,
}

/// What the request's write transactions found for its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// No write transaction began.
    None,
    /// A write transaction of this request inserted the key's row (it is
    /// there if that transaction committed).
    Ours,
    /// Another request holds the key: this one could not write.
    Taken,
}

enum ToClaim {
    /// The request claimed its key already.
    Nothing,
    /// Another request holds the key: the request may not write.
    Taken(String),
    /// Insert this row.
    Row(Model),
}

tokio::task_local! {
    static REQUEST: KeyedRequest;
}

impl KeyedRequest {
    pub fn new(merchant_id: &str, key: &str, request_hash: &str, now: DateTime<Utc>) -> Self {
        Self {
            merchant_id: merchant_id.to_owned(),
            key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            now,
            claim: Rc::new(Cell::new(Claim::None)),
        }
    }

    /// What a write transaction of the request has to do about its key.
    fn to_claim(&self) -> ToClaim {
        match self.claim.get() {
            Claim::Ours => ToClaim::Nothing,
            Claim::Taken => ToClaim::Taken(self.key.clone()),
            Claim::None => ToClaim::Row(Model {
                merchant_id: self.merchant_id.clone(),
                key: self.key.clone(),
                request_hash: self.request_hash.clone(),
                response_status: None,
                response_body: None,
                created_at: self.now,
            }),
        }
    }

    /// Runs `f` (the request) under its key, and says what became of the key.
    pub async fn run<F: Future>(self, f: F) -> (F::Output, Claim) {
        let claim = Rc::clone(&self.claim);
        let output = REQUEST.scope(self, f).await;
        (output, claim.get())
    }
}

/// Claims the running request's key (if there is one, and the request has not
/// claimed it yet) in `txn`, a write transaction just begun: the row commits
/// with whatever else `txn` writes, or not at all. An expired row is replaced.
/// Another request's live row (committed, or on PostgreSQL being committed:
/// the insert waits for it) fails the transaction, and every later write
/// transaction of the request, which learns it.
pub(super) async fn claim_in(txn: &impl ConnectionTrait) -> Result<(), DbErr> {
    let row = match REQUEST.try_with(KeyedRequest::to_claim) {
        Err(_) => return Ok(()),
        Ok(ToClaim::Nothing) => return Ok(()),
        Ok(ToClaim::Taken(key)) => return Err(taken(&key)),
        Ok(ToClaim::Row(row)) => row,
    };
    delete_expired(txn, &row.merchant_id, &row.key, row.created_at).await?;
    let inserted = Entity::insert(row.clone().into_active_model().reset_all())
        .on_conflict(
            OnConflict::columns([Column::MerchantId, Column::Key])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    let claim = if inserted == 1 {
        Claim::Ours
    } else {
        Claim::Taken
    };
    let _ = REQUEST.try_with(|r| r.claim.set(claim));
    if claim == Claim::Taken {
        return Err(taken(&row.key));
    }
    Ok(())
}

fn taken(key: &str) -> DbErr {
    DbErr::Custom(format!(
        "Idempotency-Key {key:?} is held by another request"
    ))
}

async fn delete_expired(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    Entity::delete_many()
        .filter(Column::MerchantId.eq(merchant_id))
        .filter(Column::Key.eq(key))
        .filter(Column::CreatedAt.lt(now - Duration::hours(RETENTION_HOURS)))
        .exec(db)
        .await
        .map(|_| ())
}

pub async fn find(
    db: &impl ConnectionTrait,
    merchant_id: &str,
    key: &str,
) -> Result<Option<Model>, DbErr> {
    Entity::find_by_id((merchant_id.to_owned(), key.to_owned()))
        .one(db)
        .await
}

/// Stores the response of a request that did not find its key taken: on the
/// row its write transaction committed, or on a new row when it committed
/// none (it wrote nothing, or not through [`super::begin_write`]).
pub async fn store_response(
    db: &impl ConnectionTrait,
    request: (&str, &str, &str),
    now: DateTime<Utc>,
    status: u16,
    body: String,
) -> Result<(), DbErr> {
    let (merchant_id, key, request_hash) = request;
    let updated = Entity::update_many()
        .col_expr(Column::ResponseStatus, i32::from(status).into())
        .col_expr(Column::ResponseBody, body.clone().into())
        .filter(Column::MerchantId.eq(merchant_id))
        .filter(Column::Key.eq(key))
        .filter(Column::RequestHash.eq(request_hash))
        .filter(Column::ResponseStatus.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected > 0 {
        return Ok(());
    }
    delete_expired(db, merchant_id, key, now).await?;
    Entity::insert(ActiveModel {
        merchant_id: Set(merchant_id.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        response_status: Set(Some(i32::from(status))),
        response_body: Set(Some(body)),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::MerchantId, Column::Key])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await
    .map(|_| ())
}
