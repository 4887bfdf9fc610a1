//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::context::Context;
use crate::store;

/// 200 when the database answers, 503 when it does not.
#[tracing::instrument(skip_all)]
pub async fn healthz(state: web::Data<Context>) -> HttpResponse {
    match store::ping(&state.db).await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ok", "database": "ok"})),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "error", "database": "unreachable"}))
        }
    }
}

/// 200 when the database answers and every migration is applied: the process
/// can take traffic.
#[tracing::instrument(skip_all)]
pub async fn readyz(state: web::Data<Context>) -> HttpResponse {
    match store::pending_migrations(&state.db).await {
        Ok(pending) if pending.is_empty() => HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(pending) => HttpResponse::ServiceUnavailable()
            .json(json!({"status": "not_ready", "pending_migrations": pending})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "not_ready", "database": "unreachable"}))
        }
    }
}
