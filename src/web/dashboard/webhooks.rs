//! Webhooks: the merchant's endpoints (the signing secret is shown once, on
//! creation and on rotation), each endpoint's deliveries, and a delivery's
//! request (the exact body sent) with every attempt's response, and replay.
//! Through `notify::webhooks::endpoints`, as the API's.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use serde::Deserialize;

use super::session::Signed;
use super::view::{self, Cursors, FieldError, Pager, Shell, display, display_opt, when, when_opt};
use super::{PageError, PageResult, html, see_other};
use crate::auth::api_keys::Mode;
use crate::catalog;
use crate::config::Network;
use crate::context::Context;
use crate::notify::webhooks::endpoints::{self, EndpointError, EndpointUpdate, NewEndpoint};
use crate::notify::webhooks::{delivery, inspector};
use crate::store::page::PageParams;
use crate::store::{webhook_deliveries, webhook_delivery_attempts, webhook_endpoints};

struct EndpointRow {
    id: String,
    url: String,
    events: String,
    status: String,
    disabled_reason: String,
    created: String,
}

impl From<&webhook_endpoints::Model> for EndpointRow {
    fn from(e: &webhook_endpoints::Model) -> Self {
        let events = match e.event_types.as_array() {
            Some(types) => types
                .iter()
                .filter_map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            None => "every event".to_owned(),
        };
        Self {
            id: e.id.clone(),
            url: display(&e.url),
            events: if events == "*" {
                "every event".to_owned()
            } else {
                events
            },
            status: e.status.clone(),
            disabled_reason: display_opt(e.disabled_reason.as_deref()),
            created: when(e.created_at),
        }
    }
}

struct DeliveryRow {
    id: String,
    event_id: String,
    status: String,
    attempts: i32,
    last_attempt: String,
    last_status: String,
    next_attempt: String,
}

impl From<&webhook_deliveries::Model> for DeliveryRow {
    fn from(d: &webhook_deliveries::Model) -> Self {
        Self {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            status: d.status.clone(),
            attempts: d.attempt_count,
            last_attempt: when_opt(d.last_attempt_at),
            last_status: d
                .last_status_code
                .map(|c| c.to_string())
                .or_else(|| d.last_error.as_deref().map(display))
                .unwrap_or_default(),
            next_attempt: when_opt(d.next_attempt_at),
        }
    }
}

struct AttemptRow {
    number: i32,
    at: String,
    outcome: String,
    status_code: String,
    latency_ms: i64,
    response: String,
    error: String,
}

impl From<&webhook_delivery_attempts::Model> for AttemptRow {
    fn from(a: &webhook_delivery_attempts::Model) -> Self {
        Self {
            number: a.attempt_number,
            at: when(a.attempted_at),
            outcome: a.outcome.clone(),
            status_code: a.status_code.map(|c| c.to_string()).unwrap_or_default(),
            latency_ms: a.latency_ms,
            response: display_opt(a.response_excerpt.as_deref()),
            error: display_opt(a.error.as_deref()),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
struct ListPage {
    shell: Shell,
    endpoints: Vec<EndpointRow>,
    url: String,
    events: String,
    error: FieldError,
}

#[derive(Template)]
#[template(path = "dashboard/webhook.html")]
struct EndpointPage {
    shell: Shell,
    endpoint: EndpointRow,
    /// The signing secret just made (creation or rotation): shown once.
    new_secret: Option<String>,
    deliveries: Vec<DeliveryRow>,
    pager: Pager,
}

#[derive(Template)]
#[template(path = "dashboard/webhook_delivery.html")]
struct DeliveryPage {
    shell: Shell,
    endpoint: EndpointRow,
    delivery: DeliveryRow,
    event_type: String,
    /// The body as sent (pretty-printed); the signature headers are made
    /// per attempt and not kept.
    body: String,
    attempts: Vec<AttemptRow>,
}

/// An endpoint service error as a page: a refused URL or bad input at its
/// field, the rest as an error page.
fn endpoint_error(e: EndpointError) -> Result<FieldError, PageError> {
    match e {
        EndpointError::Refused(refused) => Ok(FieldError {
            field: "url".to_owned(),
            message: format!("{refused}; webhook endpoints must be public addresses"),
        }),
        EndpointError::Other(e) => view::field_error(e),
    }
}

async fn render_list(
    state: &Context,
    signed: &Signed,
    status: StatusCode,
    url: String,
    events: String,
    error: FieldError,
) -> PageResult {
    let page = endpoints::list(
        &state.db,
        signed.merchant_id(),
        &PageParams {
            limit: 100,
            cursor: None,
        },
    )
    .await?;
    Ok(html(
        status,
        &ListPage {
            shell: Shell::new(signed, "webhooks"),
            endpoints: page.data.iter().map(EndpointRow::from).collect(),
            url,
            events,
            error,
        },
    ))
}

/// GET /dashboard/webhooks
pub async fn list(state: web::Data<Context>, signed: Signed) -> PageResult {
    render_list(
        &state,
        &signed,
        StatusCode::OK,
        String::new(),
        "*".to_owned(),
        FieldError::none(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct NewEndpointForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: String,
}

/// The form's events: `*`, or event types separated by commas or spaces.
fn event_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// POST /dashboard/webhooks: the new endpoint's page, with its secret once.
pub async fn create(
    state: web::Data<Context>,
    signed: Signed,
    web::Form(form): web::Form<NewEndpointForm>,
) -> PageResult {
    let new = NewEndpoint {
        url: form.url.clone(),
        enabled_events: event_list(&form.events),
        description: None,
    };
    let policy = endpoints::policy(&state.settings);
    match endpoints::create(&state.db, policy, signed.now, signed.merchant_id(), new).await {
        Ok(created) => {
            render_endpoint(
                &state,
                &signed,
                &created.endpoint.id,
                Some(created.secret),
                &Cursors::default(),
            )
            .await
        }
        Err(e) => {
            let mut error = endpoint_error(e)?;
            if error.field.starts_with("enabled_events") {
                error.field = "events".to_owned();
            }
            render_list(
                &state,
                &signed,
                StatusCode::BAD_REQUEST,
                form.url,
                form.events,
                error,
            )
            .await
        }
    }
}

async fn render_endpoint(
    state: &Context,
    signed: &Signed,
    id: &str,
    new_secret: Option<String>,
    cursors: &Cursors,
) -> PageResult {
    let endpoint = endpoints::get(&state.db, signed.merchant_id(), id).await?;
    let page =
        endpoints::deliveries(&state.db, signed.merchant_id(), id, &cursors.params("wd_")?).await?;
    let ids: Vec<&str> = page.data.iter().map(|d| d.id.as_str()).collect();
    let pager = Pager::new(
        &format!("/dashboard/webhooks/{id}"),
        cursors,
        &ids,
        page.has_more,
    );
    Ok(html(
        StatusCode::OK,
        &EndpointPage {
            shell: Shell::new(signed, "webhooks"),
            endpoint: EndpointRow::from(&endpoint),
            new_secret,
            deliveries: page.data.iter().map(DeliveryRow::from).collect(),
            pager,
        },
    ))
}

/// GET /dashboard/webhooks/{id}
pub async fn page(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Query(cursors): web::Query<Cursors>,
) -> PageResult {
    render_endpoint(&state, &signed, &id, None, &cursors).await
}

struct InspectedRow {
    id: String,
    received: String,
    webhook_id: String,
    event_type: String,
    verified: bool,
    headers: String,
    body: String,
}

#[derive(Template)]
#[template(path = "dashboard/webhook_inspector.html")]
struct InspectorPage {
    shell: Shell,
    url: String,
    requests: Vec<InspectedRow>,
}

/// The inspector's URL as this dashboard is reached (scheme and host of the
/// request): where this very server receives.
fn inspector_url(req: &HttpRequest, merchant_id: &str) -> String {
    let info = req.connection_info();
    inspector::url(&format!("{}://{}", info.scheme(), info.host()), merchant_id)
}

fn sandbox_only(state: &Context) -> Result<(), PageError> {
    if state.settings.app.network == Network::Sandbox {
        Ok(())
    } else {
        Err(PageError::NotFound)
    }
}

/// GET /dashboard/webhooks/inspector (sandbox): what the built-in receiver
/// got, newest first, each with whether a signature of one of the
/// merchant's endpoints verifies.
pub async fn inspector_page(
    state: web::Data<Context>,
    signed: Signed,
    req: HttpRequest,
) -> PageResult {
    sandbox_only(&state)?;
    let merchant = signed.merchant_id();
    let endpoints = endpoints::list(
        &state.db,
        merchant,
        &PageParams {
            limit: 100,
            cursor: None,
        },
    )
    .await?
    .data;
    let now = state.clocks.now();
    let requests = inspector::list(&state.db, merchant)
        .await?
        .iter()
        .map(|r| {
            let body: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
            InspectedRow {
                id: r.id.clone(),
                received: when(r.received_at),
                webhook_id: display_opt(r.webhook_id.as_deref()),
                event_type: body
                    .as_ref()
                    .and_then(|b| b["type"].as_str())
                    .map(display)
                    .unwrap_or_default(),
                verified: inspector::verifies(r, &endpoints, now),
                headers: display(&r.headers),
                body: display(
                    &body
                        .and_then(|b| serde_json::to_string_pretty(&b).ok())
                        .unwrap_or_else(|| r.body.clone()),
                ),
            }
        })
        .collect();
    Ok(html(
        StatusCode::OK,
        &InspectorPage {
            shell: Shell::new(&signed, "webhooks"),
            url: inspector_url(&req, merchant),
            requests,
        },
    ))
}

/// POST /dashboard/webhooks/inspector (sandbox): an endpoint for every
/// event at the inspector's URL; its page shows the secret once.
pub async fn add_inspector(
    state: web::Data<Context>,
    signed: Signed,
    req: HttpRequest,
) -> PageResult {
    sandbox_only(&state)?;
    let new = NewEndpoint {
        url: inspector_url(&req, signed.merchant_id()),
        enabled_events: vec!["*".to_owned()],
        description: Some("The sandbox's webhook inspector".to_owned()),
    };
    let policy = endpoints::policy(&state.settings);
    let created = endpoints::create(&state.db, policy, signed.now, signed.merchant_id(), new)
        .await
        .map_err(|e| match endpoint_error(e) {
            Ok(field) => PageError::Invalid(format!("{}: {}", field.field, field.message)),
            Err(page) => page,
        })?;
    render_endpoint(
        &state,
        &signed,
        &created.endpoint.id,
        Some(created.secret),
        &Cursors::default(),
    )
    .await
}

/// POST /dashboard/webhooks/{id}/rotate: a new secret, shown once; the old
/// one keeps signing for a day.
pub async fn rotate(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    let rotated =
        endpoints::rotate_secret(&state.db, signed.now, signed.merchant_id(), &id, None).await?;
    render_endpoint(
        &state,
        &signed,
        &rotated.endpoint.id,
        Some(rotated.secret),
        &Cursors::default(),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

/// POST /dashboard/webhooks/{id}/enabled: `enabled=true` or `false`.
pub async fn set_enabled(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
    web::Form(form): web::Form<EnabledForm>,
) -> PageResult {
    let enabled = match form.enabled.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(PageError::Invalid("enabled: true or false".into())),
    };
    let change = EndpointUpdate {
        enabled: Some(enabled),
        ..Default::default()
    };
    let policy = endpoints::policy(&state.settings);
    endpoints::update(
        &state.db,
        policy,
        signed.now,
        signed.merchant_id(),
        &id,
        change,
    )
    .await
    .map_err(|e| match endpoint_error(e) {
        Ok(field) => PageError::Invalid(format!("{}: {}", field.field, field.message)),
        Err(page) => page,
    })?;
    Ok(see_other(&format!("/dashboard/webhooks/{id}")))
}

/// POST /dashboard/webhooks/{id}/delete: the endpoint and its deliveries.
pub async fn delete(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    endpoints::delete(&state.db, signed.merchant_id(), &id).await?;
    Ok(see_other("/dashboard/webhooks"))
}

/// GET /dashboard/webhook_deliveries/{id}
pub async fn delivery(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    let merchant = signed.merchant_id();
    let attempts = endpoints::attempts(
        &state.db,
        merchant,
        &id,
        &PageParams {
            limit: 100,
            cursor: None,
        },
    )
    .await?;
    let row = endpoints::delivery(&state.db, merchant, &id).await?;
    let endpoint = endpoints::get(&state.db, merchant, &row.endpoint_id).await?;
    let event = catalog::events::get(&state.db, merchant, &row.event_id).await?;
    let livemode = Mode::for_network(state.settings.app.network).is_live();
    let body = serde_json::from_slice::<serde_json::Value>(&delivery::body(&event, livemode))
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_default();
    Ok(html(
        StatusCode::OK,
        &DeliveryPage {
            shell: Shell::new(&signed, "webhooks"),
            endpoint: EndpointRow::from(&endpoint),
            delivery: DeliveryRow::from(&row),
            event_type: event.event_type,
            body: display(&body),
            attempts: attempts.data.iter().map(AttemptRow::from).collect(),
        },
    ))
}

/// POST /dashboard/webhook_deliveries/{id}/replay
pub async fn replay(
    state: web::Data<Context>,
    signed: Signed,
    id: web::Path<String>,
) -> PageResult {
    endpoints::replay(&state.db, state.clocks.now(), signed.merchant_id(), &id).await?;
    Ok(see_other(&format!("/dashboard/webhook_deliveries/{id}")))
}
