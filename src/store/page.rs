//! Cursor pagination over prefixed ULID ids, which sort by creation: id
//! descending is newest first.

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
