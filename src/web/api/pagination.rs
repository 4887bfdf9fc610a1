//! List parameters (`limit`, `starting_after`, `ending_before`) and the list
//! response `{"object": "list", "url", "data", "has_more"}`.

use std::borrow::Cow;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::page::{Cursor, Page, PageParams};

pub const DEFAULT_LIMIT: u64 = 10;
pub const MAX_LIMIT: u64 = 100;

/// Parses the raw query values; `id_prefix` is the listed resource's (e.g. `plan_`).
pub fn page_params(
    limit: Option<&str>,
    starting_after: Option<&str>,
    ending_before: Option<&str>,
    id_prefix: &str,
) -> Result<PageParams> {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| Error::invalid("limit", "must be an integer from 1 to 100"))?,
    };
    let cursor = |param: &str, id: &str| -> Result<String> {
        if id.starts_with(id_prefix) && id.len() <= 64 {
            Ok(id.to_ascii_lowercase())
        } else {
            Err(Error::invalid(
                param,
                format!("must be an id starting with `{id_prefix}`"),
            ))
        }
    };
    let cursor = match (starting_after, ending_before) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "ending_before",
                "give at most one of `starting_after` and `ending_before`",
            ));
        }
        (Some(id), None) => Some(Cursor::After(cursor("starting_after", id)?)),
        (None, Some(id)) => Some(Cursor::Before(cursor("ending_before", id)?)),
        (None, None) => None,
    };
    Ok(PageParams { limit, cursor })
}

/// Declares a list endpoint's query: the pagination parameters plus the
/// endpoint's own filters, unknown parameters refused, and `page()` to parse
/// the pagination part.
macro_rules! list_query {
    ($name:ident { $($(#[$attr:meta])* $field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
        #[serde(deny_unknown_fields)]
        #[into_params(parameter_in = Query)]
        pub struct $name {
            /// How many objects to answer: 1 to 100, 10 by default.
            #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
            limit: Option<String>,
            /// An object id: answers the objects older than it (the next page).
            starting_after: Option<String>,
            /// An object id: answers the objects newer than it (the previous page).
            ending_before: Option<String>,
            $($(#[$attr])* $field: $ty,)*
        }

        impl $name {
            /// The pagination parameters; `id_prefix` is the listed resource's.
            fn page(&self, id_prefix: &str) -> $crate::error::Result<$crate::store::page::PageParams> {
                $crate::web::api::pagination::page_params(
                    self.limit.as_deref(),
                    self.starting_after.as_deref(),
                    self.ending_before.as_deref(),
                    id_prefix,
                )
            }
        }
    };
}
pub(crate) use list_query;

/// A page of objects, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    /// Always `list`.
    pub object: &'static str,
    /// The list's path, e.g. `/v1/plans`.
    #[schema(value_type = String)]
    pub url: Cow<'static, str>,
    pub data: Vec<T>,
    /// More objects lie beyond this page in the direction of travel.
    pub has_more: bool,
}

impl<T> List<T> {
    /// `url` is the list's path, e.g. `/v1/plans`.
    pub fn new(url: impl Into<Cow<'static, str>>, page: Page<T>) -> Self {
        Self {
            object: "list",
            url: url.into(),
            data: page.data,
            has_more: page.has_more,
        }
    }

    /// A list answered whole, in one page (`has_more` is false).
    pub fn whole(url: impl Into<Cow<'static, str>>, data: Vec<T>) -> Self {
        Self::new(
            url,
            Page {
                data,
                has_more: false,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors() {
        let p = page_params(None, None, None, "plan_").unwrap();
        assert_eq!((p.limit, p.cursor), (10, None));
        for bad in ["0", "101", "-1", "1.5", "ten"] {
            assert!(matches!(
                page_params(Some(bad), None, None, "plan_"),
                Err(Error::Invalid { param, .. }) if param == "limit"
            ));
        }
        assert!(matches!(
            page_params(None, Some("cus_1"), None, "plan_"),
            Err(Error::Invalid { param, .. }) if param == "starting_after"
        ));
        assert!(page_params(None, Some("plan_1"), Some("plan_2"), "plan_").is_err());
        let p = page_params(Some("100"), None, Some("plan_ABC"), "plan_").unwrap();
        assert_eq!(p.cursor, Some(Cursor::Before("plan_abc".into())));
    }
}
