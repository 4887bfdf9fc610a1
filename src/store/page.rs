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

/// The `(owner, status, id)` index a list of one owner's rows in one status
/// pages over (migration 37), and the owner and status asked for.
pub struct InStatus<'a, C> {
    pub owner: (C, &'a str),
    pub status: (C, &'a str),
    pub id: C,
}

/// As [`fetch`], for the owner's rows in one status, which `select` must not
/// filter by owner or status itself: the rows are bounded and ordered by the
/// row value `(owner, status, id)` alone, from `(owner, status, '')` to
/// `(owner, status, cursor)` (or `(owner, status)` on the first page), which
/// holds exactly the owner's rows in that status.
///
/// Why not `owner = ? AND status = ? ORDER BY id`: PostgreSQL then drops the
/// two constant columns from the ordering, sees that the primary key also
/// serves `ORDER BY id`, and when it guesses a status is common it scans the
/// primary key backwards, reading every newer row of the other statuses
/// first (all 100,000 open invoices before the first paid one, issue 14).
/// No equality on the owner or status, and an ordering by all three columns,
/// leave the `(owner, status, id)` index as the only ordered path; SQLite
/// walks the same index range.
pub async fn fetch_in_status<E, C>(
    db: &impl ConnectionTrait,
    select: Select<E>,
    key: InStatus<'_, C>,
    params: &PageParams,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ColumnTrait,
{
    let (owner, owner_id) = key.owner;
    let (status, status_value) = key.status;
    let row = || Expr::tuple([owner.into_expr(), status.into_expr(), key.id.into_expr()]);
    let at = |id: &str| {
        Expr::tuple([
            Expr::val(owner_id),
            Expr::val(status_value),
            Expr::val(id.to_owned()),
        ])
    };
    // Every id of the status: the upper bound without a cursor.
    let whole_status = || {
        Expr::tuple([owner.into_expr(), status.into_expr()])
            .lte(Expr::tuple([Expr::val(owner_id), Expr::val(status_value)]))
    };
    let (lower, upper, newest_first) = match &params.cursor {
        None => (row().gte(at("")), whole_status(), true),
        Some(Cursor::After(c)) => (row().gte(at("")), row().lt(at(c)), true),
        Some(Cursor::Before(c)) => (row().gt(at(c)), whole_status(), false),
    };
    let order = if newest_first {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut data = select
        .filter(lower)
        .filter(upper)
        .order_by(owner, order.clone())
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
