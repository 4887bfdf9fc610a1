//! GET /v1/test_clock and POST /v1/test_clock/advance: the caller's own
//! test clock, sandbox only.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Merchant;
use super::error::ApiError;
use super::json::ApiJson;
use crate::context::Context;
use crate::error::Error;
use crate::sandbox::{self, Advance};

/// Exactly one of `seconds` and `to`; at most five years at a time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdvanceTestClock)]
pub struct AdvanceBody {
    /// Seconds to move forward.
    seconds: Option<u64>,
    /// The time to move to (RFC 3339), not in the past.
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

/// Retrieve the test clock
///
/// Sandbox only, with the test clock on (404 otherwise): the caller's test
/// clock. Every merchant has its own, which starts at the deployment's time
/// and moves only when that merchant advances it.
#[utoipa::path(
    tag = "Test clock",
    operation_id = "get_test_clock",
    responses((status = 200, description = "The clock's time.", body = crate::objects::Live<crate::objects::TestClock>)),
)]
#[get("/test_clock")]
pub async fn get(state: web::Data<Context>, merchant: Merchant) -> Result<HttpResponse, ApiError> {
    let now = sandbox::clock(&state, &merchant.id).await?;
    Ok(answer(&merchant, now))
}

/// Advance the test clock
///
/// Sandbox only, with the test clock on (404 otherwise): moves the caller's
/// test clock and runs the billing engine for the caller up to the new time.
/// Other merchants' clocks and subscriptions are not touched.
#[utoipa::path(
    tag = "Test clock",
    operation_id = "advance_test_clock",
    request_body = AdvanceBody,
    responses((status = 200, description = "The clock's new time.", body = crate::objects::Live<crate::objects::TestClock>)),
)]
#[post("/test_clock/advance")]
pub async fn advance(
    state: web::Data<Context>,
    merchant: Merchant,
    ApiJson(body): ApiJson<AdvanceBody>,
) -> Result<HttpResponse, ApiError> {
    let now = sandbox::advance_clock(&state, &merchant.id, body.parse()?).await?;
    Ok(answer(&merchant, now))
}

fn answer(merchant: &Merchant, now: DateTime<Utc>) -> HttpResponse {
    HttpResponse::Ok().json(merchant.live(crate::objects::TestClock {
        object: "test_clock",
        now,
    }))
}
