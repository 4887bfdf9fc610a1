//! The OpenAPI 3.1 document of /v1, generated from the code: the operations
//! come from the `#[utoipa::path]` annotation of each handler registered in
//! [`super::scope`], the schemas from the request and object types. Served at
//! `GET /v1/openapi.json` (no API key needed) and rendered at `/docs/api`.

use std::sync::OnceLock;

use actix_web::{HttpResponse, get};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_actix_web::OpenApiFactory;

use super::error::ErrorBody;

/// The name of the bearer API key scheme in the document.
pub const SECURITY_SCHEME: &str = "api_key";
/// The operation that needs no key: this document.
const OPENAPI_OPERATION: &str = "get_openapi";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pushbill API",
        description = "Subscription billing for merchants paid over Lightning. \
            Authenticate with `Authorization: Bearer <API key>`. Money is integer \
            millisatoshis (`amount_msat`) with `currency: \"BTC\"`; timestamps are \
            RFC 3339 UTC; ids carry a prefix (`plan_`, `cus_`, `sub_`, `inv_`, `grt_`, `evt_`, `we_`, `wd_`, `wda_`, `key_`). \
            Lists take `limit` (1 to 100), `starting_after` and `ending_before` and answer \
            `data` (newest first) and `has_more`. Every POST takes an `Idempotency-Key`. \
            Every object answered, every event and its `data.object` carry `livemode`: \
            `false` on the sandbox (keys `pb_test_`), `true` on every other network.",
    ),
    tags(
        (name = "Plans", description = "What a customer subscribes to: a price and a schedule."),
        (name = "Customers", description = "Who pays: an email address and a Lightning node."),
        (name = "Subscriptions", description = "A customer on a plan, billed each period."),
        (name = "Invoices", description = "What is due, per period or one-off, and its payment requests."),
        (name = "Subscribe codes", description = "What a subscriber's node subscribes with: the subscribe handshake over the Lightning peer connection."),
        (name = "Grants", description = "A subscriber's consent, made by their node: the invoices its node pays automatically, within caps."),
        (name = "Events", description = "Everything that happened, as webhooks carry it."),
        (name = "Webhook endpoints", description = "Where signed events are sent (Standard Webhooks), and each delivery's attempts."),
        (name = "Settings", description = "The merchant's settings: which emails go out and where, and the fiat rate its signup pages show."),
        (name = "API keys", description = "The merchant's keys; a secret is shown once."),
        (name = "Test clock", description = "Sandbox only: each merchant's own clock; move it to watch its billing happen."),
        (name = "Node", description = "The deployment's Lightning node: peers and channels. Node operator merchants only."),
        (name = "Meta", description = "This document."),
    ),
    components(schemas(ErrorBody)),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// Bearer authentication and the common error answers on every operation
/// except this document's.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("pb_test_... or pb_live_...")
                    .description(Some(
                        "An API key of the merchant: `Authorization: Bearer pb_test_...`.",
                    ))
                    .build(),
            ),
        );
    }
}

fn error_response(status: &str, description: &str) -> RefOr<Response> {
    let mut response = ResponseBuilder::new();
    if status == "429" {
        response = response.header(
            "Retry-After",
            utoipa::openapi::HeaderBuilder::new()
                .schema(
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::Type::Integer),
                )
                .description(Some("Whole seconds to wait before retrying (at least 1)."))
                .build(),
        );
    }
    RefOr::T(
        response
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        ErrorBody::name(),
                    ))))
                    .build(),
            )
            .build(),
    )
}

/// Adds the key requirement and the error answers every authenticated
/// operation may give.
fn conventions(operation: &mut Operation, writes: bool) {
    if operation.operation_id.as_deref() == Some(OPENAPI_OPERATION) {
        return;
    }
    operation.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new::<
        _,
        _,
        String,
    >(SECURITY_SCHEME, [])]);
    let common = [
        (
            "400",
            "Invalid request: malformed JSON, a wrong type, an unknown field or a bad value; `param` names the field.",
        ),
        (
            "401",
            "No API key, or an unknown or revoked one (`authentication_error`).",
        ),
        (
            "404",
            "No such object for this merchant (`resource_missing`).",
        ),
        (
            "409",
            "Conflict: the object's state forbids it, or an `Idempotency-Key` reused with another request.",
        ),
        (
            "429",
            "Too many requests for this API key (`rate_limit_error`); retry after `Retry-After` seconds.",
        ),
    ];
    for (status, description) in common {
        // Only writes meet state conflicts and Idempotency-Key reuse.
        if status == "409" && !writes {
            continue;
        }
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(status, description));
    }
}

/// The whole document, built once.
pub fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        let scope = super::scope();
        doc.paths.merge(scope.paths());
        let mut schemas = Vec::new();
        scope.schemas(&mut schemas);
        doc.components
            .get_or_insert_with(Default::default)
            .schemas
            .extend(schemas);
        for item in doc.paths.paths.values_mut() {
            for (operation, writes) in [
                (&mut item.get, false),
                (&mut item.head, false),
                (&mut item.options, false),
                (&mut item.trace, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ] {
                if let Some(operation) = operation {
                    conventions(operation, writes);
                }
            }
        }
        doc
    })
}

/// This document: the OpenAPI 3.1 description of /v1.
#[utoipa::path(
    tag = "Meta",
    operation_id = "get_openapi",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json")),
)]
#[get("/openapi.json")]
pub async fn get() -> HttpResponse {
    HttpResponse::Ok().json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_an_id_a_tag_a_summary_and_errors() {
        let doc = serde_json::to_value(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        assert!(paths.len() > 10);
        for (path, item) in paths {
            assert!(path.starts_with("/v1/"), "{path}");
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "{method} {path}");
                assert!(op["tags"][0].is_string(), "{method} {path}");
                assert!(op["summary"].is_string(), "{method} {path}");
                if id != OPENAPI_OPERATION {
                    assert_eq!(
                        op["security"][0][SECURITY_SCHEME],
                        serde_json::json!([]),
                        "{method} {path}"
                    );
                    assert!(op["responses"]["429"].is_object(), "{method} {path}");
                }
            }
        }
    }
}
