//! Subscriptions: a filtered, paginated list; a subscription's page with
//! its timeline (events, invoices, payment requests, push attempts and
//! their replies, in time order) and its actions, each a POST through
//! `billing::lifecycle`, as the API's.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::rows::{Entry, SubscriptionRow, rows, schedule_text, timeline};
use super::session::Signed;
use super::view::{self, Cursors, FieldError, Pager, Shell, display, sat_amount, when_opt};
use super::{PageResult, html, see_other};
use crate::billing::lifecycle;
use crate::catalog::{self, plans, subscriptions::Filter};
use crate::context::Context;
use crate::domain::SubscriptionId;
use crate::error::Error;
use crate::store::events;
use crate::store::page::PageParams;

#[derive(Template)]
#[template(path = "dashboard/subscriptions.html")]
struct ListPage {
    shell: Shell,
    subscriptions: Vec<SubscriptionRow>,
    status: String,
    plan: String,
    customer: String,
    pager: Pager,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    plan: Option<String>,
    customer: Option<String>,
    #[serde(flatten)]
    cursors: Cursors,
}

fn given(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// GET /dashboard/subscriptions?status=&plan=&customer=
pub async fn list(
    state: web::Data<Context>,
    signed: Signed,
    web::Query(q): web::Query<ListQuery>,
) -> PageResult {
    let filter = Filter {
        customer: given(&q.customer),
        status: given(&q.status),
        plan: given(&q.plan),
    };
    let page = catalog::subscriptions::list(
        &state.db,
        signed.merchant_id(),
        filter.clone(),
        &q.cursors.params(SubscriptionId::PREFIX)?,
    )
    .await?;
    let mut query: Vec<String> = Vec::new();
    for (key, value) in [
        ("status", &filter.status),
        ("plan", &filter.plan),
        ("customer", &filter.customer),
    ] {
        if let Some(v) = value {
            query.push(format!("{key}={}", view::query_value(v)));
        }
    }
    let path = if query.is_empty() {
        "/dashboard/subscriptions".to_owned()
    } else {
        format!("/dashboard/subscriptions?{}", query.join("&"))
    };
    let ids: Vec<String> = page.data.iter().map(|s| s.id.clone()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let pager = Pager::new(&path, &q.cursors, &ids, page.has_more);
    Ok(html(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&signed, "subscriptions"),
            subscriptions: rows(&state, signed.merchant_id(), page.data).await?,
            status: filter.status.unwrap_or_default(),
            plan: filter.plan.unwrap_or_default(),
            customer: filter.customer.unwrap_or_default(),
            pager,
        },
    ))
}

struct PlanOption {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "dashboard/subscription.html")]
struct SubscriptionPage {
    shell: Shell,
    sub: SubscriptionRow,
    customer_id: String,
    plan_id: String,
    next_plan: Option<String>,
    period: String,
    trial_end: String,
    canceled_at: String,
    billing_error: String,
    /// How its invoices are paid (the payment method, and the wallet's).
    payment: String,
    can_cancel: bool,
    can_pause: bool,
    can_resume: bool,
    plans: Vec<PlanOption>,
    timeline: Vec<Entry>,
    notice: Option<String>,
    error: FieldError,
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

/// GET /dashboard/subscriptions/{id}
pub async fn page(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Query(q): web::Query<PageQuery>,
) -> PageResult {
    let notice = match q.done.as_deref() {
        Some("canceled") => Some("Subscription canceled.".to_owned()),
        Some("cancel_at_period_end") => {
            Some("The subscription will be canceled when its period ends.".to_owned())
        }
        Some("paused") => Some("Subscription paused.".to_owned()),
        Some("resumed") => Some("Subscription resumed.".to_owned()),
        Some("plan") => Some("The new plan takes over when the period ends.".to_owned()),
        _ => None,
    };
    show(
        &state,
        &signed,
        &id,
        StatusCode::OK,
        notice,
        FieldError::none(),
    )
    .await
}

async fn show(
    state: &Context,
    signed: &Signed,
    id: &str,
    status: StatusCode,
    notice: Option<String>,
    error: FieldError,
) -> PageResult {
    let merchant = signed.merchant_id();
    let sub = lifecycle::get(&state.db, merchant, id).await?;
    let invoices = catalog::invoices::list(
        &state.db,
        merchant,
        catalog::invoices::Filter {
            subscription: Some(sub.id.clone()),
            ..Default::default()
        },
        &PageParams {
            limit: 24,
            cursor: None,
        },
    )
    .await?;
    let events = events::for_object(&state.db, &sub.id).await?;
    let timeline = timeline(state, merchant, &invoices.data, events).await?;
    let active_plans = plans::list(
        &state.db,
        merchant,
        Some(plans::ACTIVE),
        &PageParams {
            limit: 100,
            cursor: None,
        },
    )
    .await?;
    let plans = active_plans
        .data
        .iter()
        .filter(|p| p.id != sub.plan_id)
        .map(|p| PlanOption {
            id: p.id.clone(),
            name: format!(
                "{} ({}, {})",
                display(&p.name),
                sat_amount(p.amount_msat),
                schedule_text(p)
            ),
        })
        .collect();
    let wallet = crate::store::wallet_connections::active_for(&state.db, &sub.id).await?;
    let payment = match (sub.payment_method.as_str(), &wallet) {
        ("nwc", Some(w)) => format!(
            "nwc: the subscriber's wallet{} ({}, over {}){}",
            w.wallet_alias
                .as_deref()
                .map(|a| format!(" {}", display(a)))
                .unwrap_or_default(),
            w.id,
            w.relays().join(", "),
            crate::web::browser::wallet_budget(w)
                .map(|budget| format!("; budget {budget} when connected"))
                .unwrap_or_default()
        ),
        ("nwc", None) => "nwc, no wallet connected: the pay page".to_owned(),
        ("manual", _) => "manual: email and the pay page".to_owned(),
        _ => "push: the customer's node (without one, the pay page)".to_owned(),
    };
    let parsed = crate::domain::SubscriptionStatus::parse(&sub.status).ok();
    use crate::domain::SubscriptionStatus as S;
    let live = parsed.is_some_and(|s| !s.is_terminal());
    let page = SubscriptionPage {
        shell: Shell::new(signed, "subscriptions"),
        customer_id: sub.customer_id.clone(),
        plan_id: sub.plan_id.clone(),
        next_plan: sub.next_plan_id.clone(),
        period: crate::domain::Period {
            start: sub.current_period_start,
            end: sub.current_period_end,
        }
        .days(),
        trial_end: when_opt(sub.trial_end),
        canceled_at: when_opt(sub.canceled_at),
        billing_error: sub
            .billing_error
            .clone()
            .map(|e| display(&e))
            .unwrap_or_default(),
        payment,
        can_cancel: live,
        can_pause: live && parsed != Some(S::Paused),
        can_resume: parsed == Some(S::Paused),
        plans,
        timeline,
        notice,
        error,
        sub: rows(state, merchant, vec![sub]).await?.remove(0),
    };
    Ok(html(status, &page))
}

#[derive(Debug, Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    when: String,
}

/// POST /dashboard/subscriptions/{id}/cancel (`when` = now | period_end)
pub async fn cancel(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Form(form): web::Form<CancelForm>,
) -> PageResult {
    let at_period_end = match form.when.as_str() {
        "now" => false,
        "period_end" => true,
        _ => {
            let error = FieldError {
                field: "when".into(),
                message: "choose now or at the end of the period".into(),
            };
            return show(&state, &signed, &id, StatusCode::BAD_REQUEST, None, error).await;
        }
    };
    let sub = lifecycle::cancel(
        &state.db,
        signed.now,
        signed.merchant_id(),
        &id,
        at_period_end,
    )
    .await?;
    let done = if at_period_end {
        "cancel_at_period_end"
    } else {
        "canceled"
    };
    Ok(see_other(&format!(
        "/dashboard/subscriptions/{}?done={done}",
        sub.id
    )))
}

/// POST /dashboard/subscriptions/{id}/pause
pub async fn pause(state: web::Data<Context>, signed: Signed, id: web::Path<String>) -> PageResult {
    let sub = lifecycle::pause(&state.db, signed.now, signed.merchant_id(), &id).await?;
    Ok(see_other(&format!(
        "/dashboard/subscriptions/{}?done=paused",
        sub.id
    )))
}

/// POST /dashboard/subscriptions/{id}/resume
pub async fn resume(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    let sub = lifecycle::resume(&state.db, signed.now, signed.merchant_id(), &id).await?;
    Ok(see_other(&format!(
        "/dashboard/subscriptions/{}?done=resumed",
        sub.id
    )))
}

#[derive(Debug, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    plan: String,
}

/// POST /dashboard/subscriptions/{id}/plan: the new plan takes over at the
/// period's end.
pub async fn change_plan(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Form(form): web::Form<PlanForm>,
) -> PageResult {
    match lifecycle::change_plan(&state.db, signed.now, signed.merchant_id(), &id, &form.plan).await
    {
        Ok(sub) => Ok(see_other(&format!(
            "/dashboard/subscriptions/{}?done=plan",
            sub.id
        ))),
        Err(e @ Error::Invalid { .. }) => {
            let error = view::field_error(e)?;
            show(&state, &signed, &id, StatusCode::BAD_REQUEST, None, error).await
        }
        Err(e) => Err(e.into()),
    }
}
