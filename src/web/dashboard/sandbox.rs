//! Sandbox: the merchant's test clock, moved a minute, an hour, a day or a
//! month at a time (through `sandbox::advance_clock`, as the API's), the
//! demo subscribers' button (`demo::runs`, with the test clock on) and its
//! progress, and the latest invoices, to watch them pushed and paid.
//! Outside the sandbox the page is not there (404).

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use chrono::{Duration, Months};
use serde::Deserialize;

use super::rows::{InvoiceRow, label};
use super::session::Signed;
use super::view::{Shell, when};
use super::{PageError, PageResult, html, see_other};
use crate::catalog::{self, invoices::Filter};
use crate::config::Network;
use crate::context::Context;
use crate::demo::runs::{self, MAX_SUBSCRIBERS, Refused, State};
use crate::sandbox::{self, Advance};
use crate::store::page::PageParams;
use crate::web::WebState;

/// The clock's buttons: the form's `by` and its label.
const STEPS: &[(&str, &str)] = &[
    ("minute", "+1 minute"),
    ("hour", "+1 hour"),
    ("day", "+1 day"),
    ("month", "+1 month"),
];

#[derive(Template)]
#[template(path = "dashboard/sandbox.html")]
struct SandboxPage {
    shell: Shell,
    /// The merchant's test clock, `None` when the test clock is off.
    clock: Option<String>,
    steps: &'static [(&'static str, &'static str)],
    invoices: Vec<InvoiceRow>,
    subscribers: Vec<SubscriberRow>,
    /// The merchant's demo run, once started from this page.
    demo: Option<DemoRun>,
    max_subscribers: usize,
}

/// The demo run's progress, as the page shows it.
struct DemoRun {
    /// `running`, `ready` or `failed`: the status's id and the page
    /// refreshes itself while running.
    state: &'static str,
    failure: String,
    lines: Vec<String>,
}

/// A customer whose node subscribed through the handshake: in the sandbox,
/// a simulated subscriber of `pushbill demo` or a payer someone ran.
struct SubscriberRow {
    id: String,
    label: String,
    node: String,
}

/// GET /dashboard/sandbox
pub async fn page(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    signed: Signed,
) -> PageResult {
    if state.settings.app.network != Network::Sandbox {
        return Err(PageError::NotFound);
    }
    let clock = sandbox::clock(&state, signed.merchant_id()).await.ok();
    let invoices = catalog::invoices::list(
        &state.db,
        signed.merchant_id(),
        Filter::default(),
        &PageParams {
            limit: 20,
            cursor: None,
        },
    )
    .await?;
    let subscribers = catalog::customers::with_verified_node(&state.db, signed.merchant_id(), 50)
        .await?
        .iter()
        .map(|c| SubscriberRow {
            id: c.id.clone(),
            label: label(c),
            node: c.node_id.clone().unwrap_or_default(),
        })
        .collect();
    let demo = web_state.demos.progress(signed.merchant_id()).map(|p| {
        let (state, failure) = match p.state {
            State::Running => ("running", String::new()),
            State::Ready => ("ready", String::new()),
            State::Failed(why) => ("failed", why),
        };
        DemoRun {
            state,
            failure,
            lines: p.lines,
        }
    });
    Ok(html(
        StatusCode::OK,
        &SandboxPage {
            shell: Shell::new(&signed, "sandbox"),
            clock: clock.map(when),
            steps: STEPS,
            invoices: invoices.data.iter().map(InvoiceRow::from).collect(),
            subscribers,
            demo,
            max_subscribers: MAX_SUBSCRIBERS,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct DemoForm {
    #[serde(default)]
    subscribers: String,
}

/// POST /dashboard/sandbox/demo: starts the demo's plans and subscribers
/// for the signed-in merchant in the background (once per merchant; the
/// test clock must be on), and comes back to the page to watch.
pub async fn start_demo(
    state: web::Data<Context>,
    web_state: web::Data<WebState>,
    signed: Signed,
    web::Form(form): web::Form<DemoForm>,
) -> PageResult {
    let count = match form.subscribers.trim() {
        "" => MAX_SUBSCRIBERS,
        n => n.parse().unwrap_or(0),
    };
    runs::start(&state, &web_state.demos, signed.merchant_id(), count).map_err(|refused| {
        match refused {
            Refused::NotSandbox => PageError::NotFound,
            Refused::Count => PageError::Invalid(format!("subscribers: {refused}.")),
            Refused::NoTestClock | Refused::Started => PageError::Conflict(format!("{refused}.")),
        }
    })?;
    Ok(see_other("/dashboard/sandbox"))
}

#[derive(Debug, Deserialize)]
pub struct AdvanceForm {
    #[serde(default)]
    by: String,
}

/// POST /dashboard/sandbox/clock: moves the merchant's test clock by a
/// minute, an hour, a day or a calendar month, billing what falls due.
pub async fn advance(
    state: web::Data<Context>,
    signed: Signed,
    web::Form(form): web::Form<AdvanceForm>,
) -> PageResult {
    let now = sandbox::clock(&state, signed.merchant_id()).await?;
    let to = match form.by.as_str() {
        "minute" => now + Duration::minutes(1),
        "hour" => now + Duration::hours(1),
        "day" => now + Duration::days(1),
        "month" => now
            .checked_add_months(Months::new(1))
            .ok_or_else(|| PageError::Invalid("The test clock is at its end.".into()))?,
        _ => {
            return Err(PageError::Invalid(
                "by: move the clock by a minute, hour, day or month.".into(),
            ));
        }
    };
    sandbox::advance_clock(&state, signed.merchant_id(), Advance::To(to)).await?;
    Ok(see_other("/dashboard/sandbox"))
}
