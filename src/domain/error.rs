//! Errors shared by the string-backed enums.

use thiserror::Error;

/// A stored or submitted string is not a known value of an enum.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown {kind} `{value}`")]
pub struct ParseEnumError {
    /// What was being parsed, e.g. "subscription status".
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

impl ParseEnumError {
    pub(crate) fn new(kind: &'static str, value: &str) -> Self {
        ParseEnumError {
            kind,
            value: value.to_string(),
        }
    }
}
