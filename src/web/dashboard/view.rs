//! What every dashboard page shows around its content, and the display
//! helpers the pages share (amounts, dates, names made safe to show).

use chrono::{DateTime, Utc};

use super::session::Signed;
use super::{SCRIPT_PATH, STYLESHEET_PATH};
use crate::error::Error;

pub use crate::notify::email::render::{sat_amount, when};

/// The frame of a signed-in page: the merchant, the user, the navigation,
/// the sign-out form's CSRF token, the sandbox label.
pub struct Shell {
    pub stylesheet: &'static str,
    pub script: &'static str,
    pub merchant_name: String,
    pub user_email: String,
    pub csrf: String,
    pub sandbox: bool,
    /// The merchant runs the deployment's node (the Node page is theirs).
    pub node_operator: bool,
    /// The navigation entry to mark as current.
    pub nav: &'static str,
}

impl Shell {
    pub fn new(signed: &Signed, nav: &'static str) -> Self {
        Self {
            stylesheet: STYLESHEET_PATH,
            script: SCRIPT_PATH,
            merchant_name: display(&signed.merchant.name),
            user_email: display(&signed.user.email),
            csrf: signed.csrf.clone(),
            sandbox: signed.sandbox,
            node_operator: signed.merchant.node_operator,
            nav,
        }
    }

    /// `current` when `entry` is this page's navigation entry.
    pub fn current(&self, entry: &str) -> &'static str {
        if self.nav == entry { "current" } else { "" }
    }
}

/// The frame of a page shown before signing in.
pub struct PublicShell {
    pub stylesheet: &'static str,
    pub csrf: String,
    pub sandbox: bool,
}

/// A form's error, shown at its field.
#[derive(Debug, Default, Clone)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn none() -> Self {
        Self::default()
    }

    /// The message when `field` is the one at fault.
    pub fn at(&self, field: &str) -> Option<&str> {
        (self.field == field).then_some(self.message.as_str())
    }

    /// The message when the error names no field of the form (`fields`
    /// lists them, separated by commas), with the field it names.
    pub fn general(&self, fields: &str) -> Option<String> {
        (!self.message.is_empty() && !fields.split(',').any(|f| f == self.field))
            .then(|| format!("{}: {}", self.field, self.message))
    }
}

/// Splits a service error into a field error (shown on the form, 400) or
/// the error page (404, 409, 500).
pub fn field_error(e: Error) -> Result<FieldError, super::PageError> {
    match e {
        Error::Invalid { param, message } => Ok(FieldError {
            field: param,
            message,
        }),
        other => Err(other.into()),
    }
}

/// Names made safe to show (shared with the customer portal).
pub use crate::domain::text::display;

pub fn display_opt(s: Option<&str>) -> String {
    s.map(display).unwrap_or_default()
}

/// A date, or "—" for none.
pub fn when_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(when).unwrap_or_else(|| "—".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_error_shows_at_its_field_only() {
        let e = FieldError {
            field: "name".into(),
            message: "must be 1 to 200 characters".into(),
        };
        assert_eq!(e.at("name"), Some("must be 1 to 200 characters"));
        assert_eq!(e.at("amount"), None);
        assert_eq!(e.general("name,amount"), None);
        assert!(e.general("amount").is_some());
        assert_eq!(FieldError::none().general(""), None);
    }
}

/// Rows per page of the dashboard's lists.
pub const PAGE_SIZE: &str = "25";

/// The `after` / `before` cursors of a list page's address.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Cursors {
    pub after: Option<String>,
    pub before: Option<String>,
}

impl Cursors {
    /// The page's parameters (25 rows), or a 400 naming the bad cursor.
    pub fn params(&self, id_prefix: &str) -> Result<crate::store::page::PageParams, Error> {
        crate::web::api::pagination::page_params(
            Some(PAGE_SIZE),
            self.after.as_deref().filter(|s| !s.is_empty()),
            self.before.as_deref().filter(|s| !s.is_empty()),
            id_prefix,
        )
        .map_err(|e| match e {
            Error::Invalid { param, message } => Error::invalid(
                match param.as_str() {
                    "starting_after" => "after",
                    "ending_before" => "before",
                    other => other,
                },
                message,
            ),
            other => other,
        })
    }
}

/// Links to the newer and older pages of a list, keeping its filters.
pub struct Pager {
    pub newer: Option<String>,
    pub older: Option<String>,
}

impl Pager {
    /// `path` is the list's address with its filters (`/dashboard/invoices?status=open`);
    /// `ids` the page's ids, newest first.
    pub fn new(path: &str, cursors: &Cursors, ids: &[&str], has_more: bool) -> Self {
        let sep = if path.contains('?') { '&' } else { '?' };
        let link = |key: &str, id: &str| format!("{path}{sep}{key}={id}");
        let backwards = cursors.before.as_deref().is_some_and(|s| !s.is_empty());
        let forwards = cursors.after.as_deref().is_some_and(|s| !s.is_empty());
        let (first, last) = (ids.first(), ids.last());
        let older = if backwards || has_more {
            last.map(|id| link("after", id))
        } else {
            None
        };
        let newer = if forwards || (backwards && has_more) {
            first.map(|id| link("before", id))
        } else {
            None
        };
        Self { newer, older }
    }
}

/// A query value made safe for a link (percent-encoded).
pub fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
