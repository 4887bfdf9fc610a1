//! The sandbox's test clocks, moved through the API so a merchant can watch a
//! month of billing in seconds. Each merchant has its own (see
//! `clock::Clocks`): moving it bills only that merchant.

use chrono::{DateTime, Duration, Utc};

use crate::billing::engine::Scope;
use crate::billing::scheduler;
use crate::clock::{AdvanceError, Clocks};
use crate::config::Network;
use crate::context::Context;
use crate::error::{Error, Result};

/// Where to move the clock.
#[derive(Debug, Clone, Copy)]
pub enum Advance {
    By(Duration),
    To(DateTime<Utc>),
}

/// The merchant's test clock: its time. NotFound unless this is the sandbox
/// with its test clock on.
pub async fn clock(state: &Context, merchant_id: &str) -> Result<DateTime<Utc>> {
    test_clocks(state)?;
    Ok(state.clocks.now_for(&state.db, merchant_id).await?)
}

/// Moves the merchant's test clock forward (and the deployment's with it,
/// so it never falls behind), and runs the billing engine for this merchant
/// so everything of theirs due by then happens. Other merchants' clocks and
/// billing are left alone. NotFound unless this is the sandbox with its test
/// clock on.
pub async fn advance_clock(
    state: &Context,
    merchant_id: &str,
    advance: Advance,
) -> Result<DateTime<Utc>> {
    let clocks = test_clocks(state)?;
    let now = clocks.now_for(&state.db, merchant_id).await?;
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
    let to = match clocks.advance_merchant(&state.db, merchant_id, to).await {
        Ok(to) => to,
        Err(AdvanceError::Database(e)) => return Err(e.into()),
        // Another request moved it past `to` meanwhile.
        Err(AdvanceError::Clock(e)) => return Err(Error::invalid(param, e.to_string())),
    };
    scheduler::bill(state, to, &Scope::Merchant(merchant_id.to_owned())).await;
    Ok(to)
}

fn test_clocks(state: &Context) -> Result<&Clocks> {
    match state.clocks.test_clock() {
        Some(_) if state.settings.app.network == Network::Sandbox => Ok(&state.clocks),
        _ => Err(Error::not_found("test_clock", "default")),
    }
}
