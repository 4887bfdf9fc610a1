//! Errors in bitcoind's JSON-RPC shape (`{"code": .., "message": ..}`), with
//! bitcoind's codes, so clients written for bitcoind handle them the same way.

/// bitcoind's RPC error codes (src/rpc/protocol.h) that the simnet returns.
pub mod code {
    pub const MISC_ERROR: i64 = -1;
    pub const TYPE_ERROR: i64 = -3;
    pub const WALLET_INSUFFICIENT_FUNDS: i64 = -6;
    pub const WALLET_ERROR: i64 = -4;
    pub const INVALID_ADDRESS_OR_KEY: i64 = -5;
    pub const INVALID_PARAMETER: i64 = -8;
    pub const DESERIALIZATION_ERROR: i64 = -22;
    pub const TRANSACTION_ERROR: i64 = -25;
    pub const TRANSACTION_REJECTED: i64 = -26;
    pub const TRANSACTION_ALREADY_IN_CHAIN: i64 = -27;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const PARSE_ERROR: i64 = -32700;
}

/// One JSON-RPC error: bitcoind's code and a message like bitcoind's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("RPC error {code}: {message}")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> RpcError {
        RpcError::new(code::INVALID_PARAMETER, message)
    }

    pub fn block_not_found() -> RpcError {
        RpcError::new(code::INVALID_ADDRESS_OR_KEY, "Block not found")
    }

    /// A mempool rejection (`-26`), message as bitcoind's validation state.
    pub fn rejected(reason: impl Into<String>) -> RpcError {
        RpcError::new(code::TRANSACTION_REJECTED, reason)
    }
}

/// Failures of the simulator itself (its files), as opposed to bad requests.
#[derive(Debug, thiserror::Error)]
pub enum SimnetError {
    #[error("simnet data file {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("simnet data file {path} is corrupt: {reason}")]
    Corrupt {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("simnet data dir {path} is in use by another simnet")]
    InUse { path: std::path::PathBuf },
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Rpc(#[from] RpcError),
}
