//! Cursor pagination over prefixed ULID ids, which sort by creation: id
//! descending is newest first.

use sea_orm::sea_query::{Expr, ExprTrait, Order};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// Rows older than this id (the next page).
    After(String),
    /// Rows newer than this id (the previous page).
    Before(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageParams {
    /// 1 to 100.
    pub limit: u64,
    pub cursor: Option<Cursor>,
}

#[derive(Debug, Clone)]
pub struct Page<M> {
    /// Newest first.
    pub data: Vec<M>,
    /// More rows lie beyond this page in the direction of travel.
    pub has_more: bool,
}

impl<M> Page<M> {
    pub fn map<N>(self, f: impl FnMut(M) -> N) -> Page<N> {
        Page {
            data: self.data.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}

/// One page of `select` (already filtered by owner), ordered by `id`.
pub async fn fetch<E, C>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    id: C,
    params: &PageParams,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let (select, newest_first) = match &params.cursor {
        None => (select.order_by_desc(id), true),
        Some(Cursor::After(c)) => (select.filter(id.lt(c.as_str())).order_by_desc(id), true),
        Some(Cursor::Before(c)) => (select.filter(id.gt(c.as_str())).order_by_asc(id), false),
    };
    let mut data = select.limit(params.limit + 1).all(db).await?;
    let has_more = data.len() as u64 > params.limit;
    data.truncate(params.limit as usize);
    if !newest_first {
        data.reverse();
    }
    Ok(Page { data, has_more })
}

/// Whose rows a list holds, and in which status if one was asked for: the
/// `(owner, id)` and `(owner, status, id)` indexes it pages over
/// (migration 37).
pub struct Owned<'a, C> {
    pub owner: (C, &'a str),
    pub status: Option<(C, &'a str)>,
    pub id: C,
}

/// As [`fetch`], for the owner's rows, or the owner's rows in one status
/// (`select` filters by neither itself). In a status it takes `owner = ?` and bounds the
/// rest by the row value `(status, id)`, from `(status, '')` to `(status,
/// cursor)` (or up to `status <= ?` on the first page), ordered by `(status,
/// id)`: exactly the owner's rows in that status.
///
/// Why not `owner = ? AND status = ? ORDER BY id`: PostgreSQL then drops the
/// constant `status` from the ordering, sees that the primary key also
/// serves `ORDER BY id`, and when it guesses a status is common it scans the
/// primary key backwards, reading every newer row of the other statuses
/// first (all 100,000 open invoices before the first paid one: 35 ms). With
/// no equality on the status, only the `(owner, status, id)` index gives
/// `(status, id)` order. And why the owner stays an equality: a row value
/// stops a btree scan only when its first column fails, so bounding by
/// `(owner, status, id)` read every row of the owner's other statuses below
/// a rare one (12 ms for 3 void invoices beside 200,000 others); after
/// `owner = ?` the row's first column is the status, and the scan ends with
/// the status (0.03 ms). SQLite walks the same index range.
pub async fn fetch_owned<E, C>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    key: Owned<'_, C>,
    params: &PageParams,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let (owner, owner_id) = key.owner;
    let select = select.filter(owner.eq(owner_id));
    let Some((status, status_value)) = key.status else {
        return fetch(db, select, key.id, params).await;
    };
    let row = || Expr::tuple([status.into_expr(), key.id.into_expr()]);
    let at = |id: &str| Expr::tuple([Expr::val(status_value), Expr::val(id.to_owned())]);
    let (lower, upper, newest_first) = match &params.cursor {
        None => (row().gte(at("")), status.lte(status_value), true),
        Some(Cursor::After(c)) => (row().gte(at("")), row().lt(at(c)), true),
        Some(Cursor::Before(c)) => (row().gt(at(c)), status.lte(status_value), false),
    };
    let order = if newest_first {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut data = select
        .filter(lower)
        .filter(upper)
        .order_by(status, order.clone())
        .order_by(key.id, order)
        .limit(params.limit + 1)
        .all(db)
        .await?;
    let has_more = data.len() as u64 > params.limit;
    data.truncate(params.limit as usize);
    if !newest_first {
        data.reverse();
    }
    Ok(Page { data, has_more })
}
