//! `/docs/api`: the human API reference, rendered on the server from the
//! OpenAPI document that `/v1/openapi.json` serves (so the two cannot
//! disagree), and its stylesheet. No script, no external asset.

use actix_web::HttpResponse;
use askama::Template;
use serde_json::{Map, Value};

use super::api::openapi;

/// The stylesheet, served at [`STYLESHEET_PATH`].
const STYLESHEET: &str = include_str!("../../static/css/api-docs.css");
pub const STYLESHEET_PATH: &str = "/static/css/api-docs.css";

#[derive(Template)]
#[template(path = "docs/api.html")]
/// Descriptions (`description` fields) hold HTML made by [`html`].
struct ApiReference {
    title: String,
    version: String,
    description: String,
    stylesheet: &'static str,
    groups: Vec<Group>,
    objects: Vec<Object>,
}

struct Group {
    name: String,
    description: String,
    anchor: String,
    operations: Vec<Operation>,
}

struct Operation {
    id: String,
    method: String,
    path: String,
    summary: String,
    description: String,
    authenticated: bool,
    parameters: Vec<Field>,
    body: Option<Object>,
    responses: Vec<Answer>,
}

/// A parameter or a body field.
struct Field {
    name: String,
    location: String,
    ty: String,
    required: bool,
    description: String,
}

/// A named schema and its fields.
struct Object {
    name: String,
    description: String,
    fields: Vec<Field>,
}

struct Answer {
    status: String,
    /// The status class for styling: `2`, `4`...
    class: String,
    description: String,
    schema: String,
}

/// GET /docs/api
pub async fn api_reference() -> HttpResponse {
    let doc = match serde_json::to_value(openapi::document()) {
        Ok(doc) => doc,
        Err(e) => {
            tracing::error!(error = %e, "API reference: cannot serialize the OpenAPI document");
            return HttpResponse::InternalServerError().finish();
        }
    };
    match reference(&doc).render() {
        Ok(html) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "API reference: cannot render");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// GET /static/css/api-docs.css
pub async fn stylesheet() -> HttpResponse {
    super::browser::asset("text/css; charset=utf-8", STYLESHEET)
}

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// A description as HTML: escaped, with `code` spans (the only markup the
/// document's descriptions use) as `<code>`. The template outputs it as is.
fn html(v: &Value) -> String {
    let mut out = String::new();
    for (i, part) in text(v).split('`').enumerate() {
        let escaped = part
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        if i % 2 == 1 {
            out.push_str(&format!("<code>{escaped}</code>"));
        } else {
            out.push_str(&escaped);
        }
    }
    out
}

fn anchor(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// The page's content, taken from the OpenAPI document.
fn reference(doc: &Value) -> ApiReference {
    let schemas = doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut groups: Vec<Group> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Group {
            name: text(&t["name"]),
            description: html(&t["description"]),
            anchor: format!("tag-{}", anchor(&text(&t["name"]))),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"][0].as_str().unwrap_or("Other").to_owned();
            let group = match groups.iter().position(|g| g.name == tag) {
                Some(i) => &mut groups[i],
                None => {
                    groups.push(Group {
                        anchor: format!("tag-{}", anchor(&tag)),
                        name: tag,
                        description: String::new(),
                        operations: Vec::new(),
                    });
                    groups.last_mut().expect("just pushed")
                }
            };
            group.operations.push(operation(method, path, op, &schemas));
        }
    }
    groups.retain(|g| !g.operations.is_empty());
    let objects = schemas
        .iter()
        .map(|(name, schema)| object(name, schema, &schemas))
        .collect();
    ApiReference {
        title: text(&doc["info"]["title"]),
        version: text(&doc["info"]["version"]),
        description: html(&doc["info"]["description"]),
        stylesheet: STYLESHEET_PATH,
        groups,
        objects,
    }
}

fn operation(method: &str, path: &str, op: &Value, schemas: &Map<String, Value>) -> Operation {
    let parameters = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| Field {
            name: text(&p["name"]),
            location: text(&p["in"]),
            ty: type_name(&p["schema"]),
            required: p["required"].as_bool().unwrap_or(false),
            description: html(&p["description"]),
        })
        .collect();
    let body = op["requestBody"]["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .map(|content| {
            let schema = &content["schema"];
            let mut body = object(&type_name(schema), schema, schemas);
            let described = html(&op["requestBody"]["description"]);
            if !described.is_empty() {
                body.description = described;
            }
            body
        });
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| Answer {
            status: status.clone(),
            class: status.chars().take(1).collect(),
            description: html(&r["description"]),
            schema: r["content"]
                .as_object()
                .and_then(|c| c.values().next())
                .map(|c| type_name(&c["schema"]))
                .unwrap_or_default(),
        })
        .collect();
    Operation {
        id: text(&op["operationId"]),
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        summary: text(&op["summary"]),
        description: html(&op["description"]),
        authenticated: op["security"].as_array().is_some_and(|s| {
            s.iter()
                .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
        }),
        parameters,
        body,
        responses,
    }
}

/// A schema's fields (following `$ref` and `allOf`, which flattening makes).
fn object(name: &str, schema: &Value, schemas: &Map<String, Value>) -> Object {
    let resolved = resolve(schema, schemas);
    let mut fields = Vec::new();
    collect_fields(resolved, schemas, &mut fields, 0);
    Object {
        name: name.to_owned(),
        description: html(&resolved["description"]),
        fields,
    }
}

fn collect_fields(
    schema: &Value,
    schemas: &Map<String, Value>,
    fields: &mut Vec<Field>,
    depth: usize,
) {
    // `allOf` nests at most a few levels; the bound guards against a cycle.
    if depth > 8 {
        return;
    }
    for part in schema["allOf"].as_array().into_iter().flatten() {
        collect_fields(resolve(part, schemas), schemas, fields, depth + 1);
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, property) in schema["properties"].as_object().into_iter().flatten() {
        fields.push(Field {
            name: name.clone(),
            location: String::new(),
            ty: type_name(property),
            required: required.contains(&name.as_str()),
            description: html(&resolve(property, schemas)["description"]),
        });
    }
}

fn resolve<'a>(schema: &'a Value, schemas: &'a Map<String, Value>) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
        Some(name) => schemas.get(name).unwrap_or(schema),
        None => schema,
    }
}

/// A short type for a schema: `string`, `integer (int64)`, `Plan`,
/// `array of Plan`, `string or null`.
fn type_name(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(parts) = schema[key].as_array() {
            let names: Vec<String> = parts.iter().map(type_name).collect();
            if !names.is_empty() {
                return names.join(" or ");
            }
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let names: Vec<String> = types
        .iter()
        .map(|t| match *t {
            "array" => format!("array of {}", type_name(&schema["items"])),
            "null" => "null".to_owned(),
            t => match schema["format"].as_str() {
                Some(f) => format!("{t} ({f})"),
                None => t.to_owned(),
            },
        })
        .collect();
    if names.is_empty() {
        "any".to_owned()
    } else {
        names.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn descriptions_are_escaped_with_code_spans() {
        assert_eq!(
            html(&json!("Use `<b>` & 'x'")),
            "Use <code>&lt;b&gt;</code> &amp; &#39;x&#39;"
        );
        assert_eq!(html(&json!("odd ` tick")), "odd <code> tick</code>");
        assert_eq!(html(&Value::Null), "");
    }

    #[test]
    fn type_names() {
        assert_eq!(type_name(&json!({"type": "string"})), "string");
        assert_eq!(
            type_name(&json!({"type": ["integer", "null"], "format": "int64"})),
            "integer (int64) or null"
        );
        assert_eq!(
            type_name(&json!({"$ref": "#/components/schemas/Plan"})),
            "Plan"
        );
        assert_eq!(
            type_name(&json!({"type": "array", "items": {"$ref": "#/components/schemas/Plan"}})),
            "array of Plan"
        );
        assert_eq!(
            type_name(&json!({"oneOf": [{"type": "null"}, {"$ref": "#/c/s/Cancel"}]})),
            "null or Cancel"
        );
        assert_eq!(type_name(&json!({})), "any");
    }

    #[test]
    fn the_reference_lists_every_operation_and_its_fields() {
        let doc = serde_json::to_value(openapi::document()).unwrap();
        let page = reference(&doc);
        let ops: Vec<&Operation> = page.groups.iter().flat_map(|g| &g.operations).collect();
        let documented = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| item.as_object().unwrap().len())
            .sum::<usize>();
        assert_eq!(ops.len(), documented);
        let create = ops.iter().find(|o| o.id == "create_plan").unwrap();
        assert_eq!(
            (create.method.as_str(), create.path.as_str()),
            ("POST", "/v1/plans")
        );
        let body = create.body.as_ref().unwrap();
        let amount = body
            .fields
            .iter()
            .find(|f| f.name == "amount_msat")
            .unwrap();
        assert!(
            amount.required && amount.ty.starts_with("integer"),
            "{}",
            amount.ty
        );
        assert!(create.authenticated);
        assert!(create.responses.iter().any(|r| r.status == "429"));
        let list = ops.iter().find(|o| o.id == "list_plans").unwrap();
        let names: Vec<&str> = list.parameters.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["limit", "starting_after", "ending_before", "status"]
        );
        assert!(
            page.objects
                .iter()
                .any(|o| o.name == "Plan" && !o.fields.is_empty())
        );
        let html = page.render().unwrap();
        assert!(html.contains("/v1/plans/{id}/archive"));
    }
}
