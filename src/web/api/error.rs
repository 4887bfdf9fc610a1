//! The API's one error shape: `{"error": {"type", "code", "message", "param"}}`.
//! Internal failures are logged with their details and answered with a
//! generic message.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

/// The error object.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// invalid_request_error, authentication_error, permission_error,
    /// idempotency_error, rate_limit_error or api_error.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A stable machine-readable code, e.g. `parameter_invalid`, `resource_missing`.
    pub code: &'static str,
    /// For a human; may change.
    pub message: String,
    /// The request field at fault, when there is one.
    pub param: Option<String>,
    /// Seconds to wait before retrying: sent as the `Retry-After` header.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// Every error answer: `{"error": {"type", "code", "message", "param"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ApiError,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, code: &'static str, message: &str) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.to_owned(),
            param: None,
            retry_after: None,
        }
    }

    /// 400: a request the API cannot accept, naming the parameter when there is one.
    pub fn invalid(code: &'static str, param: Option<&str>, message: &str) -> Self {
        Self {
            param: param.map(str::to_owned),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                code,
                message,
            )
        }
    }

    pub fn unauthorized(code: &'static str, message: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            code,
            message,
        )
    }

    /// 403: a valid key that may not do this.
    pub fn forbidden(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, "permission_error", code, message)
    }

    /// 503: this process cannot serve the request now (another one may).
    pub fn unavailable(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", code, message)
    }

    /// 429 with `Retry-After: secs` (at least 1).
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limited",
                "Too many requests with this API key; retry after the number of seconds in Retry-After.",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            "internal_error",
            "An internal error occurred. It has been logged; please retry later.",
        )
    }

    pub fn not_found(message: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_missing",
            message,
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
        }
        res.json(ErrorBody {
            error: self.clone(),
        })
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid { param, message } => {
                ApiError::invalid("parameter_invalid", Some(&param), &message)
            }
            Error::NotFound { resource, id } => {
                ApiError::not_found(&format!("No such {resource}: '{id}'"))
            }
            Error::Conflict { code, message } => ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                code,
                &message,
            ),
            Error::Database(_) | Error::Corrupt(_) => {
                tracing::error!(error = %e, "API request failed");
                ApiError::internal()
            }
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Error::Database(e).into()
    }
}

impl From<ln_node::OpError> for ApiError {
    fn from(e: ln_node::OpError) -> Self {
        Error::from(e).into()
    }
}
