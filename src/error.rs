//! The error every service returns. The web layer maps each kind to an HTTP
//! status and a stable machine code; database details are logged, never sent.

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that breaks a rule; `param` names the field.
    #[error("{param}: {message}")]
    Invalid { param: String, message: String },
    #[error("no such {resource}: {id}")]
    NotFound { resource: &'static str, id: String },
    /// A legal request that the current state forbids (e.g. pausing a canceled subscription).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    /// A stored row the code cannot read back: a bug or a hand-edited database.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(param: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            param: param.to_owned(),
            message: message.into(),
        }
    }

    pub fn not_found(resource: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            resource,
            id: id.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn corrupt(what: impl Into<String>) -> Self {
        Error::Corrupt(what.into())
    }
}

impl From<ln_node::OpError> for Error {
    fn from(e: ln_node::OpError) -> Self {
        match e {
            ln_node::OpError::Invalid { param, message } => Error::Invalid { param, message },
            ln_node::OpError::NotFound { resource, id } => Error::NotFound { resource, id },
            ln_node::OpError::Conflict { code, message } => Error::Conflict { code, message },
        }
    }
}
