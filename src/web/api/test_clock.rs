//! POST /v1/test_clock/advance: sandbox only.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::json;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use crate::app::AppState;
use crate::error::Error;
use crate::sandbox::{self, Advance};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    seconds: Option<u64>,
    to: Option<DateTime<Utc>>,
}

impl AdvanceBody {
    fn parse(self) -> Result<Advance, Error> {
        match (self.seconds, self.to) {
            (Some(s), None) => i64::try_from(s)
                .ok()
                .and_then(Duration::try_seconds)
                .map(Advance::By)
                .ok_or_else(|| Error::invalid("seconds", "too large")),
            (None, Some(to)) => Ok(Advance::To(to)),
            _ => Err(Error::invalid(
                "seconds",
                "give exactly one of `seconds` and `to`",
            )),
        }
    }
}

pub async fn advance(
    state: web::Data<AppState>,
    _merchant: Merchant,
    ApiJson(body): ApiJson<AdvanceBody>,
) -> Result<HttpResponse, ApiError> {
    let now = sandbox::advance_clock(&state, body.parse()?).await?;
    Ok(HttpResponse::Ok().json(json!({"object": "test_clock", "now": now})))
}
