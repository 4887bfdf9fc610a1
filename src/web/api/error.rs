//! The API's one error shape: `{"error": {"type", "code", "message", "param"}}`.
//! Internal failures are logged with their details and answered with a
//! generic message.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::Error;

#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, code: &'static str, message: &str) -> Self {
        Self {
            status,
            kind,
            code,
            message: message.to_owned(),
            param: None,
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
        HttpResponse::build(self.status).json(serde_json::json!({ "error": self }))
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
