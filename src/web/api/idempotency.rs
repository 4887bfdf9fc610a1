//! `Idempotency-Key` on POST requests, as middleware on /v1.
//!
//! A request with a key claims it in its first write transaction (see
//! `store::idempotency_keys`), so the key and the request's effect commit
//! together, and its answer is stored next (unless a 5xx). A retry with the
//! same key and the same request (method, path, body) within 24 hours gets
//! that answer again with `Idempotent-Replayed: true`. The same key on a
//! different request is a 409, as is a retry while the first request runs or
//! after its answer was lost (a crash between commit and storing): a retry
//! never repeats an effect. Keys expire by wall-clock time: they guard against
//! network retries, which happen in real time even when the sandbox clock
//! moves.

use actix_web::ResponseError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::auth::authenticate;
use super::error::ApiError;
use super::json::read_body;
use crate::context::Context;
use crate::store::idempotency_keys::{self, Claim, KeyedRequest};

pub const HEADER: &str = "Idempotency-Key";
pub const REPLAYED: &str = "Idempotent-Replayed";
const MAX_KEY_LEN: usize = 255;
/// POST routes whose answer carries a secret: storing it for replay would
/// keep the secret in clear in the database, so they refuse an
/// Idempotency-Key. `path` is the one the router matches (percent-decoded).
fn answers_secret(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    matches!(
        segments.as_slice(),
        ["", "v1", "api_keys"]
            | ["", "v1", "webhook_endpoints"]
            | ["", "v1", "webhook_endpoints", _, "rotate_secret"]
            | ["", "v1", "customers", _, "portal_links"]
    )
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() != Method::POST || !req.headers().contains_key(HEADER) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if answers_secret(req.match_info().as_str()) {
        let e = ApiError::invalid(
            "idempotency_key_unsupported",
            Some(HEADER),
            &format!(
                "{} answers a secret, which is never stored: send it without {HEADER}.",
                req.path()
            ),
        );
        return Ok(req.error_response(e));
    }
    let p = match prepare(&mut req).await {
        Ok(p) => p,
        Err(e) => return Ok(req.error_response(e)),
    };
    let now = Utc::now();
    match earlier_answer(&p, now).await {
        Ok(None) => {}
        Ok(Some(answer)) => return Ok(req.into_response(answer)),
        Err(e) => return Ok(req.error_response(e)),
    }
    let keyed = KeyedRequest::new(&p.merchant_id, &p.key, &p.request_hash, now);
    let (result, claim) = keyed.run(next.call(req)).await;
    let res = result?;
    if claim == Claim::Taken {
        // A request with the same key wrote first: this one wrote nothing.
        let (http_req, _) = res.into_parts();
        let answer = match earlier_answer(&p, now).await {
            Ok(Some(answer)) => answer,
            Ok(None) => in_use().error_response(),
            Err(e) => e.error_response(),
        };
        return Ok(ServiceResponse::new(http_req, answer));
    }
    let (http_req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let body = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("response body unreadable"))?;
    // A server error is not kept: the retry runs again (if the effect had
    // committed, the retry finds the key without an answer: a 409).
    if !head.status().is_server_error() {
        let stored = idempotency_keys::store_response(
            &p.state.db,
            (&p.merchant_id, &p.key, &p.request_hash),
            now,
            head.status().as_u16(),
            String::from_utf8_lossy(&body).into_owned(),
        )
        .await;
        if let Err(e) = stored {
            tracing::error!(error = %e, "idempotency: cannot store the response");
        }
    }
    Ok(ServiceResponse::new(
        http_req,
        head.set_body(BoxBody::new(body)),
    ))
}

struct Prepared {
    state: web::Data<Context>,
    merchant_id: String,
    key: String,
    request_hash: String,
}

/// Checks the key, authenticates, and hashes the request (putting the body back).
async fn prepare(req: &mut ServiceRequest) -> Result<Prepared, ApiError> {
    let key = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ApiError::invalid(
            "idempotency_key_invalid",
            Some(HEADER),
            &format!("The {HEADER} header must be 1 to {MAX_KEY_LEN} visible ASCII characters."),
        ));
    }
    let merchant = authenticate(req.request()).await?;
    let state = req
        .app_data::<web::Data<Context>>()
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (_, payload) = req.parts_mut();
    let body = read_body(payload, declared).await?;
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b"\n");
    hasher.update(req.path());
    hasher.update(b"\n");
    hasher.update(&body);
    req.set_payload(body.into());
    Ok(Prepared {
        state,
        merchant_id: merchant.id,
        key,
        request_hash: hex::encode(hasher.finalize()),
    })
}

/// What an earlier request with the key answers this one: its stored
/// response, or a 409 (another request, or its answer is not stored);
/// `None` when the key is free (never used, or expired).
async fn earlier_answer(
    p: &Prepared,
    now: DateTime<Utc>,
) -> Result<Option<HttpResponse>, ApiError> {
    let Some(row) = idempotency_keys::find(&p.state.db, &p.merchant_id, &p.key).await? else {
        return Ok(None);
    };
    if row.expired(now) {
        return Ok(None);
    }
    if row.request_hash != p.request_hash {
        return Err(conflict(
            "idempotency_key_reuse",
            "This Idempotency-Key was already used with a different request.",
        ));
    }
    let Some(status) = row.response_status else {
        return Err(in_use());
    };
    let status = u16::try_from(status)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok(Some(
        HttpResponse::build(status)
            .content_type("application/json")
            .insert_header((REPLAYED, "true"))
            .body(row.response_body.unwrap_or_default()),
    ))
}

/// The key's request has written (or is writing) its effect, and its answer
/// is not stored: running the request again could repeat the effect.
fn in_use() -> ApiError {
    conflict(
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still running, or it was applied and its answer \
         was lost: retry later, or look the object up.",
    )
}

fn conflict(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "idempotency_error", code, message)
}

#[cfg(test)]
mod tests {
    use super::answers_secret;

    #[test]
    fn the_posts_answering_a_secret_are_known() {
        for path in [
            "/v1/api_keys",
            "/v1/webhook_endpoints",
            "/v1/webhook_endpoints/we_01abc/rotate_secret",
        ] {
            assert!(answers_secret(path), "{path}");
        }
        for path in [
            "/v1/api_keys/key_01abc/revoke",
            "/v1/webhook_endpoints/we_01abc",
            "/v1/webhook_deliveries/wd_01abc/replay",
            "/v1/webhook_endpoints/a/b/rotate_secret",
            "/v1/plans",
        ] {
            assert!(!answers_secret(path), "{path}");
        }
    }
}
