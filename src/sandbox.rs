//! The sandbox's test clock, moved through the API so a merchant can watch a
//! month of billing in seconds.

use chrono::{DateTime, Duration, Utc};

use crate::billing::scheduler;
use crate::clock::Clock;
use crate::config::Network;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::store;

/// Where to move the clock.
#[derive(Debug, Clone, Copy)]
pub enum Advance {
    By(Duration),
    To(DateTime<Utc>),
}

/// Moves the test clock forward, saves it for the other processes, and runs
/// the billing engine so everything due by then happens. NotFound unless this
/// is the sandbox with its test clock on.
pub async fn advance_clock(state: &Context, advance: Advance) -> Result<DateTime<Utc>> {
    let clock = match &state.test_clock {
        Some(clock) if state.settings.app.network == Network::Sandbox => clock,
        _ => return Err(Error::not_found("test_clock", "default")),
    };
    let now = clock.now();
    let (to, param) = match advance {
        Advance::By(by) => (now.checked_add_signed(by), "seconds"),
        Advance::To(to) => (Some(to), "to"),
    };
    let to = to.ok_or_else(|| Error::invalid(param, "too far"))?;
    if to < now {
        return Err(Error::invalid(
            param,
            format!(
                "the test clock cannot move backwards (it is {})",
                now.to_rfc3339()
            ),
        ));
    }
    if to > now + Duration::days(5 * 366) {
        return Err(Error::invalid(param, "at most five years at a time"));
    }
    let to = clock
        .set(to)
        .map_err(|e| Error::invalid(param, e.to_string()))?;
    store::sandbox_clock::save(&state.db, to).await?;
    scheduler::tick(state).await;
    Ok(to)
}
