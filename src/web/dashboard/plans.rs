//! Plans: list, create, edit (name and description), archive. The rules
//! and their messages are `catalog::plans`' (the API's too); a bad field is
//! shown at the field with a 400.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use serde::Deserialize;

use super::rows::schedule_text;
use super::session::Signed;
use super::view::{
    self, Cursors, FieldError, Pager, Shell, display, display_opt, sat_amount, when,
};
use super::{PageResult, html, see_other};
use crate::catalog::plans::{self, PlanInput, PlanUpdate};
use crate::context::Context;
use crate::domain::{Msat, PlanId};
use crate::error::Error;
use crate::store::plans as plan_rows;

/// A plan as the pages show it.
pub struct PlanView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price: String,
    pub schedule: String,
    pub trial: String,
    pub status: String,
    pub created: String,
}

impl From<&plan_rows::Model> for PlanView {
    fn from(p: &plan_rows::Model) -> Self {
        let days = p.trial_period_secs / 86_400;
        Self {
            id: p.id.clone(),
            name: display(&p.name),
            description: display_opt(p.description.as_deref()),
            price: sat_amount(p.amount_msat),
            schedule: schedule_text(p),
            trial: if days > 0 {
                format!("{days} days")
            } else {
                "none".to_owned()
            },
            status: p.status.clone(),
            created: when(p.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/plans.html")]
struct ListPage {
    shell: Shell,
    plans: Vec<PlanView>,
    status: String,
    pager: Pager,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    #[serde(flatten)]
    cursors: Cursors,
}

/// GET /dashboard/plans?status=active|archived
pub async fn list(
    state: web::Data<Context>,
    signed: Signed,
    web::Query(q): web::Query<ListQuery>,
) -> PageResult {
    let status = q.status.clone().filter(|s| !s.is_empty());
    let page = plans::list(
        &state.db,
        signed.merchant_id(),
        status.as_deref(),
        &q.cursors.params(PlanId::PREFIX)?,
    )
    .await?;
    let ids: Vec<&str> = page.data.iter().map(|p| p.id.as_str()).collect();
    let path = match &status {
        Some(s) => format!("/dashboard/plans?status={}", view::query_value(s)),
        None => "/dashboard/plans".to_owned(),
    };
    let pager = Pager::new(&path, &q.cursors, &ids, page.has_more);
    Ok(html(
        StatusCode::OK,
        &ListPage {
            shell: Shell::new(&signed, "plans"),
            plans: page.data.iter().map(PlanView::from).collect(),
            status: status.unwrap_or_default(),
            pager,
        },
    ))
}

/// The create form's fields, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    amount_sat: String,
    #[serde(default)]
    interval: String,
    #[serde(default)]
    interval_count: String,
    #[serde(default)]
    cron_expression: String,
    #[serde(default)]
    trial_period_days: String,
}

/// A whole number typed into `field`, `None` when left empty.
fn number(field: &str, text: &str) -> Result<Option<u32>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| Error::invalid(field, "must be a whole number"))
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

impl PlanForm {
    fn input(&self) -> Result<PlanInput, Error> {
        let amount = Msat::parse_sat(&self.amount_sat)
            .map_err(|e| Error::invalid("amount_sat", e.to_string()))?;
        let cron = self.interval == "cron";
        Ok(PlanInput {
            name: self.name.clone(),
            description: optional(&self.description),
            amount,
            interval: self.interval.clone(),
            interval_count: if cron {
                None
            } else {
                number("interval_count", &self.interval_count)?
            },
            cron_expression: if cron {
                optional(&self.cron_expression)
            } else {
                None
            },
            trial_period_days: number("trial_period_days", &self.trial_period_days)?,
            ..PlanInput::default()
        })
    }
}

#[derive(Template)]
#[template(path = "dashboard/plan_new.html")]
struct NewPage {
    shell: Shell,
    form: PlanForm,
    error: FieldError,
}

/// GET /dashboard/plans/new
pub async fn new_page(signed: Signed) -> PageResult {
    let form = PlanForm {
        interval: "month".to_owned(),
        interval_count: "1".to_owned(),
        ..PlanForm::default()
    };
    Ok(html(
        StatusCode::OK,
        &NewPage {
            shell: Shell::new(&signed, "plans"),
            form,
            error: FieldError::none(),
        },
    ))
}

/// The catalog names the API's fields; the form's amount is in sat.
fn form_field(mut e: FieldError) -> FieldError {
    if e.field == "amount_msat" {
        e.field = "amount_sat".to_owned();
    }
    e
}

/// POST /dashboard/plans
pub async fn create(
    state: web::Data<Context>,
    signed: Signed,
    web::Form(form): web::Form<PlanForm>,
) -> PageResult {
    let created = match form.input().and_then(PlanInput::parse) {
        Ok(plan) => plans::create(&state.db, signed.now, signed.merchant_id(), plan).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(plan) => Ok(see_other(&format!(
            "/dashboard/plans/{}?created=1",
            plan.id
        ))),
        Err(e) => {
            let error = form_field(view::field_error(e)?);
            Ok(html(
                StatusCode::BAD_REQUEST,
                &NewPage {
                    shell: Shell::new(&signed, "plans"),
                    form,
                    error,
                },
            ))
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/plan.html")]
struct PlanPage {
    shell: Shell,
    plan: PlanView,
    /// The plan's hosted signup page and its QR code (an `<svg>` element
    /// made here, not from input markup).
    signup_url: String,
    signup_qr: String,
    /// The edit form's values (as typed, after a refused edit).
    name: String,
    description: String,
    error: FieldError,
    notice: Option<&'static str>,
}

fn signup_url(state: &Context, plan: &plan_rows::Model) -> String {
    crate::objects::signup_url(&state.settings.app.base_url, &plan.signup_link)
}

#[derive(Debug, Deserialize)]
pub struct PlanPageQuery {
    created: Option<String>,
    updated: Option<String>,
    archived: Option<String>,
}

/// GET /dashboard/plans/{id}
pub async fn page(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Query(q): web::Query<PlanPageQuery>,
) -> PageResult {
    let plan = plans::get(&state.db, signed.merchant_id(), &id).await?;
    let notice = if q.created.is_some() {
        Some("Plan created.")
    } else if q.updated.is_some() {
        Some("Plan saved.")
    } else if q.archived.is_some() {
        Some("Plan archived: it takes no new subscriptions; existing ones go on.")
    } else {
        None
    };
    Ok(html(
        StatusCode::OK,
        &PlanPage {
            shell: Shell::new(&signed, "plans"),
            signup_url: signup_url(&state, &plan),
            signup_qr: crate::web::qr::svg(&signup_url(&state, &plan)),
            name: plan.name.clone(),
            description: plan.description.clone().unwrap_or_default(),
            plan: PlanView::from(&plan),
            error: FieldError::none(),
            notice,
        },
    ))
}

#[derive(Debug, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// POST /dashboard/plans/{id}: renames or re-describes the plan.
pub async fn update(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Form(form): web::Form<EditForm>,
) -> PageResult {
    let change = PlanUpdate {
        name: Some(form.name.clone()),
        description: Some(optional(&form.description)),
    };
    match plans::update(&state.db, signed.now, signed.merchant_id(), &id, change).await {
        Ok(plan) => Ok(see_other(&format!(
            "/dashboard/plans/{}?updated=1",
            plan.id
        ))),
        Err(e) => {
            let error = view::field_error(e)?;
            let plan = plans::get(&state.db, signed.merchant_id(), &id).await?;
            Ok(html(
                StatusCode::BAD_REQUEST,
                &PlanPage {
                    shell: Shell::new(&signed, "plans"),
                    signup_url: signup_url(&state, &plan),
                    signup_qr: crate::web::qr::svg(&signup_url(&state, &plan)),
                    plan: PlanView::from(&plan),
                    name: form.name,
                    description: form.description,
                    error,
                    notice: None,
                },
            ))
        }
    }
}

/// POST /dashboard/plans/{id}/archive
pub async fn archive(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    let plan = plans::archive(&state.db, signed.now, signed.merchant_id(), &id).await?;
    Ok(see_other(&format!(
        "/dashboard/plans/{}?archived=1",
        plan.id
    )))
}
