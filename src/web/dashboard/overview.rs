//! GET /dashboard: the overview.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;

use super::session::Signed;
use super::view::{Shell, display, sat_amount, when};
use super::{PageResult, html};
use crate::catalog::metrics::{self, MonthRevenue};
use crate::context::Context;
use crate::store::page::PageParams;

/// One bar of the revenue chart, in the SVG's user units.
struct Bar {
    x: i64,
    y: i64,
    width: i64,
    height: i64,
    label: String,
    label_x: i64,
    /// The amount, for the bar's `<title>` (shown on hover) and the table.
    amount: String,
}

struct Event {
    id: String,
    event_type: String,
    object_id: String,
    link: Option<String>,
    at: String,
}

#[derive(Template)]
#[template(path = "dashboard/overview.html")]
struct OverviewPage {
    shell: Shell,
    mrr: String,
    active: u64,
    trialing: u64,
    past_due: u64,
    unpaid: u64,
    paused: u64,
    cron_subscriptions: u64,
    bars: Vec<Bar>,
    chart_max: String,
    events: Vec<Event>,
}

const CHART_WIDTH: i64 = 600;
const CHART_HEIGHT: i64 = 160;
const BAR_GAP: i64 = 10;

fn bars(months: &[MonthRevenue]) -> (Vec<Bar>, i64) {
    let highest = months.iter().map(|m| m.paid_msat).max().unwrap_or(0);
    let max = highest.max(1);
    let n = months.len().max(1) as i64;
    let slot = CHART_WIDTH / n;
    let bars = months
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let height =
                (i128::from(m.paid_msat) * i128::from(CHART_HEIGHT) / i128::from(max)) as i64;
            let x = i as i64 * slot + BAR_GAP / 2;
            Bar {
                x,
                y: CHART_HEIGHT - height,
                width: slot - BAR_GAP,
                height,
                label: m.month.format("%b").to_string(),
                label_x: x + (slot - BAR_GAP) / 2,
                amount: format!("{}: {}", m.month.format("%B %Y"), sat_amount(m.paid_msat)),
            }
        })
        .collect();
    (bars, highest)
}

/// Where an event's object is shown, when the dashboard has a page for it.
pub fn object_link(object_type: &str, id: &str) -> Option<String> {
    let section = match object_type {
        "subscription" => "subscriptions",
        "invoice" => "invoices",
        "customer" => "customers",
        "plan" => "plans",
        _ => return None,
    };
    Some(format!("/dashboard/{section}/{id}"))
}

pub async fn page(state: web::Data<Context>, signed: Signed) -> PageResult {
    let now = signed.now;
    let o = metrics::overview(&state.db, signed.merchant_id(), now).await?;
    let (bars, max) = bars(&o.revenue);
    let latest = crate::catalog::events::list(
        &state.db,
        signed.merchant_id(),
        None,
        &PageParams {
            limit: 10,
            cursor: None,
        },
    )
    .await?;
    let events = latest
        .data
        .into_iter()
        .map(|e| Event {
            link: object_link(&e.object_type, &e.object_id),
            id: e.id,
            event_type: e.event_type,
            object_id: display(&e.object_id),
            at: when(e.created_at),
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &OverviewPage {
            shell: Shell::new(&signed, "overview"),
            mrr: sat_amount(o.mrr_msat),
            active: o.active,
            trialing: o.trialing,
            past_due: o.past_due,
            unpaid: o.unpaid,
            paused: o.paused,
            cron_subscriptions: o.cron_subscriptions,
            bars,
            chart_max: sat_amount(max),
            events,
        },
    ))
}
