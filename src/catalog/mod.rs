//! Merchants (their dashboard accounts too), their plans and their
//! customers: the things billing bills.
//! Also the read side of subscriptions and invoices (written by `billing`)
//! and of events, and who may enter the customer portal (`portal`).

pub mod accounts;
pub mod customers;
pub mod events;
pub mod fiat;
pub mod grants;
pub mod invoices;
pub mod merchants;
pub mod metrics;
pub mod plans;
pub mod policy;
pub mod portal;
pub mod subscribe_codes;
pub mod subscriptions;

use serde_json::Value;

use crate::error::{Error, Result};

const METADATA_MAX_KEYS: usize = 50;
const METADATA_MAX_KEY_LEN: usize = 40;
const METADATA_MAX_VALUE_LEN: usize = 500;

/// Merges `change` into `current` metadata: string values set a key, "" or
/// null removes it. Keys up to 40 characters, values up to 500, 50 keys.
pub fn merge_metadata(current: &Value, change: Option<Value>) -> Result<Value> {
    let mut merged = current.as_object().cloned().unwrap_or_default();
    let Some(change) = change else {
        return Ok(Value::Object(merged));
    };
    let Value::Object(change) = change else {
        return Err(Error::invalid("metadata", "must be an object"));
    };
    for (key, value) in change {
        if key.is_empty() || key.chars().count() > METADATA_MAX_KEY_LEN {
            return Err(Error::invalid(
                "metadata",
                format!("keys must be 1 to {METADATA_MAX_KEY_LEN} characters"),
            ));
        }
        match value {
            Value::Null => {
                merged.remove(&key);
            }
            Value::String(s) if s.is_empty() => {
                merged.remove(&key);
            }
            Value::String(s) if s.chars().count() <= METADATA_MAX_VALUE_LEN => {
                merged.insert(key, Value::String(s));
            }
            Value::String(_) => {
                return Err(Error::invalid(
                    &format!("metadata.{key}"),
                    format!("at most {METADATA_MAX_VALUE_LEN} characters"),
                ));
            }
            _ => {
                return Err(Error::invalid(
                    &format!("metadata.{key}"),
                    "values must be strings",
                ));
            }
        }
    }
    if merged.len() > METADATA_MAX_KEYS {
        return Err(Error::invalid(
            "metadata",
            format!("at most {METADATA_MAX_KEYS} keys"),
        ));
    }
    Ok(Value::Object(merged))
}
