//! POST /sandbox/inspector/{merchant}: the sandbox's built-in webhook
//! receiver (`notify::webhooks::inspector`). It records what it is sent
//! and answers 200; the merchant reads it on the dashboard's Webhooks
//! page. 404 outside the sandbox and for an unknown merchant.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::catalog;
use crate::config::Network;
use crate::context::Context;
use crate::notify::webhooks::inspector;

pub async fn receive(
    state: web::Data<Context>,
    merchant_id: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if state.settings.app.network != Network::Sandbox {
        return HttpResponse::NotFound().finish();
    }
    match catalog::merchants::get(&state.db, &merchant_id).await {
        Ok(_) => {}
        Err(crate::error::Error::NotFound { .. }) => return HttpResponse::NotFound().finish(),
        Err(e) => {
            tracing::error!(error = %e, "inspector: cannot read the merchant");
            return HttpResponse::InternalServerError().finish();
        }
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    match inspector::record(&state.db, state.clocks.now(), &merchant_id, &headers, &body).await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"received": true})),
        Err(e) => {
            tracing::error!(error = %e, "inspector: cannot record");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}
