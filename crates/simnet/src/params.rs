//! Positional JSON-RPC parameters, checked with bitcoind's error codes and
//! messages.

use std::str::FromStr;

use bitcoin::consensus::encode::deserialize;
use bitcoin::consensus::{Decodable, encode};
use bitcoin::{Transaction, TxIn, TxOut};
use serde_json::Value;

use super::error::{RpcError, code};

pub struct Params<'a> {
    method: &'a str,
    values: &'a [Value],
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(name: &str, value: &Value, expected: &str) -> RpcError {
    RpcError::new(
        code::TYPE_ERROR,
        format!(
            "JSON value of type {} for field {name} is not of expected type {expected}",
            type_name(value)
        ),
    )
}

impl<'a> Params<'a> {
    pub fn new(method: &'a str, values: &'a [Value]) -> Params<'a> {
        Params { method, values }
    }

    /// Parameter `i`, None when absent or null.
    pub fn opt(&self, i: usize) -> Option<&'a Value> {
        self.values.get(i).filter(|v| !v.is_null())
    }

    pub fn req(&self, i: usize, name: &str) -> Result<&'a Value, RpcError> {
        self.opt(i).ok_or_else(|| {
            RpcError::new(
                code::MISC_ERROR,
                format!(
                    "{}: missing required parameter {} ({name})",
                    self.method,
                    i + 1
                ),
            )
        })
    }

    pub fn str(&self, i: usize, name: &str) -> Result<&'a str, RpcError> {
        let value = self.req(i, name)?;
        value
            .as_str()
            .ok_or_else(|| wrong_type(name, value, "string"))
    }

    pub fn opt_str(&self, i: usize, name: &str) -> Result<Option<&'a str>, RpcError> {
        match self.opt(i) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| wrong_type(name, v, "string")),
        }
    }

    pub fn u64(&self, i: usize, name: &str) -> Result<u64, RpcError> {
        let value = self.req(i, name)?;
        as_u64(value, name)
    }

    pub fn opt_u64(&self, i: usize, name: &str) -> Result<Option<u64>, RpcError> {
        self.opt(i).map(|v| as_u64(v, name)).transpose()
    }

    pub fn opt_bool(&self, i: usize, name: &str) -> Result<Option<bool>, RpcError> {
        match self.opt(i) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| wrong_type(name, v, "bool")),
        }
    }

    /// A verbosity given as a number or (older bitcoind) a bool.
    pub fn verbosity(&self, i: usize, name: &str, default: u8) -> Result<u8, RpcError> {
        match self.opt(i) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(u8::from(*b)),
            Some(v) => Ok(as_u64(v, name)?.min(u64::from(u8::MAX)) as u8),
        }
    }

    /// A hash in bitcoind's display (reversed hex) form, checked like
    /// bitcoind's ParseHashV.
    pub fn hash<T: FromStr>(&self, i: usize, name: &str) -> Result<T, RpcError> {
        let text = self.str(i, name)?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RpcError::invalid_parameter(format!(
                "{name} must be hexadecimal string (not '{text}')"
            )));
        }
        if text.len() != 64 {
            return Err(RpcError::invalid_parameter(format!(
                "{name} must be of length 64 (not {}, for '{text}')",
                text.len()
            )));
        }
        T::from_str(text).map_err(|_| {
            RpcError::invalid_parameter(format!("{name} must be hexadecimal string (not '{text}')"))
        })
    }

    /// A hex-encoded transaction, decoded as bitcoind's DecodeHexTx does.
    pub fn transaction(&self, i: usize, name: &str) -> Result<Transaction, RpcError> {
        let text = self.str(i, name)?;
        let failed = || {
            RpcError::new(
                code::DESERIALIZATION_ERROR,
                "TX decode failed. Make sure the tx has at least one input.",
            )
        };
        let bytes = hex::decode(text).map_err(|_| failed())?;
        decode_transaction(&bytes).ok_or_else(failed)
    }
}

fn as_u64(value: &Value, name: &str) -> Result<u64, RpcError> {
    match value {
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            RpcError::invalid_parameter(format!("{name} must be a non-negative integer"))
        }),
        other => Err(wrong_type(name, other, "number")),
    }
}

/// Decodes a transaction that may have no inputs (createrawtransaction's
/// output, which the extended serialization would misread as a segwit
/// marker): the extended form when it parses with inputs, else the legacy
/// form, as bitcoind's DecodeHexTx.
pub fn decode_transaction(bytes: &[u8]) -> Option<Transaction> {
    let extended: Option<Transaction> = deserialize(bytes).ok();
    if let Some(tx) = &extended
        && !tx.input.is_empty()
    {
        return extended;
    }
    decode_legacy(bytes).or(extended)
}

fn decode_legacy(bytes: &[u8]) -> Option<Transaction> {
    let mut cursor = bytes;
    let tx = (|| -> Result<Transaction, encode::Error> {
        Ok(Transaction {
            version: Decodable::consensus_decode(&mut cursor)?,
            input: Vec::<TxIn>::consensus_decode(&mut cursor)?,
            output: Vec::<TxOut>::consensus_decode(&mut cursor)?,
            lock_time: Decodable::consensus_decode(&mut cursor)?,
        })
    })()
    .ok()?;
    cursor.is_empty().then_some(tx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::absolute::LockTime;
    use bitcoin::consensus::serialize;
    use bitcoin::transaction::Version;
    use bitcoin::{Amount, BlockHash, ScriptBuf};
    use serde_json::json;

    #[test]
    fn a_zero_input_transaction_decodes_in_legacy_form() {
        let tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![],
            output: vec![TxOut {
                value: Amount::from_sat(1234),
                script_pubkey: ScriptBuf::new_op_return([1u8; 4]),
            }],
        };
        let bytes = serialize(&tx);
        assert_eq!(decode_transaction(&bytes), Some(tx));
        assert_eq!(decode_transaction(&[1, 2, 3]), None);
    }

    #[test]
    fn hashes_are_checked_like_bitcoind() {
        let values = [json!("xyz"), json!("abcd"), json!(5)];
        let p = Params::new("getblock", &values);
        let err = p.hash::<BlockHash>(0, "blockhash").unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (-8, "blockhash must be hexadecimal string (not 'xyz')")
        );
        let err = p.hash::<BlockHash>(1, "blockhash").unwrap_err();
        assert_eq!(
            err.message,
            "blockhash must be of length 64 (not 4, for 'abcd')"
        );
        assert_eq!(p.hash::<BlockHash>(2, "blockhash").unwrap_err().code, -3);
        assert_eq!(p.hash::<BlockHash>(3, "blockhash").unwrap_err().code, -1);
        let zero = "00".repeat(32);
        let values = [json!(zero)];
        assert_eq!(
            Params::new("getblock", &values)
                .hash::<BlockHash>(0, "blockhash")
                .unwrap()
                .to_string(),
            zero
        );
    }
}
