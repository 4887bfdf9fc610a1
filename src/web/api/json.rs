//! `ApiJson<T>`: the JSON body extractor. The body is capped at 64 KiB (413
//! past it); any other problem with it (malformed, wrong type, unknown field)
//! is a 400 in the API's error shape, naming the field where serde knows it.
//! Text the database cannot store is refused here for every endpoint: a NUL
//! character (`\u0000`) or a lone surrogate (`\ud800`) in any string or key.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::auth::authenticate;
use super::error::ApiError;
use crate::domain::text;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = declared_length(req);
        let mut payload = payload.take();
        let req = req.clone();
        Box::pin(async move {
            // The key first: a request without a valid one is a 401 whatever
            // its body (extractors run concurrently), and no body is read for it.
            authenticate(&req).await?;
            let body = read_body(&mut payload, declared).await?;
            parse(&body).map(ApiJson)
        })
    }
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads the whole body, refusing more than [`BODY_LIMIT`] bytes.
pub async fn read_body(
    payload: &mut Payload,
    declared: Option<usize>,
) -> Result<web::Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "body_too_large",
            &format!("The request body is larger than {BODY_LIMIT} bytes."),
        )
    };
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| {
            ApiError::invalid(
                "body_unreadable",
                None,
                "The request body could not be read.",
            )
        })?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parses a body, which must be a JSON object; an empty body reads as `{}`.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    // serde would take a struct from an array too (`["CI"]` as `{"name": "CI"}`).
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => {
                    ApiError::invalid("body_not_object", None, "The body must be a JSON object.")
                }
                Err(e) => ApiError::invalid(
                    "body_invalid_json",
                    None,
                    &format!(
                        "The body is not valid JSON: {}",
                        without_position(&e.to_string())
                    ),
                ),
            },
        );
    }
    if may_hold_unstorable_text(body) {
        refuse_unstorable_text(body)?;
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(to_api_error)?;
    de.end().map_err(|e| {
        ApiError::invalid(
            "body_invalid_json",
            None,
            &format!("The body is not valid JSON: {e}"),
        )
    })?;
    Ok(value)
}

/// Whether a body can hold a NUL or a lone surrogate at all: in JSON text
/// either needs a `\u` escape, or a raw control character (which JSON
/// forbids in strings). Most bodies have neither and are parsed once.
fn may_hold_unstorable_text(body: &[u8]) -> bool {
    body.windows(2).any(|w| w == b"\\u")
        || body
            .iter()
            .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
}

/// Refuses a string or key, at any depth, that holds a NUL character or is not
/// Unicode (a lone surrogate escape; or a raw control character), naming it.
/// Any other problem with the body is left to the typed parse to report.
fn refuse_unstorable_text(body: &[u8]) -> Result<(), ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: Value = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        Err(e) => {
            let path = e.path().to_string();
            let message = without_position(&e.into_inner().to_string());
            let in_a_string = ["surrogate", "escape", "control character"]
                .iter()
                .any(|w| message.contains(w));
            if in_a_string && path != "." {
                return Err(ApiError::invalid(
                    "parameter_invalid",
                    Some(&path),
                    &format!("{path}: must be Unicode text ({message})"),
                ));
            }
            return Ok(());
        }
    };
    match nul_at(&value, ".") {
        Some(path) => Err(ApiError::invalid(
            "parameter_invalid",
            Some(&path),
            &format!("{path}: {}", text::NUL_REFUSED),
        )),
        None => Ok(()),
    }
}

/// The path (as serde_path_to_error writes it) of the first string holding a
/// NUL character; for a key, the path of its object (the key itself cannot
/// name it).
fn nul_at(value: &Value, path: &str) -> Option<String> {
    let child = |segment: String| {
        if path == "." {
            segment
        } else if segment.starts_with('[') {
            format!("{path}{segment}")
        } else {
            format!("{path}.{segment}")
        }
    };
    match value {
        Value::String(s) if text::has_nul(s) => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, &child(format!("[{i}]")))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if text::has_nul(k) {
                Some(if path == "." {
                    k.replace('\0', "\\u0000")
                } else {
                    path.to_owned()
                })
            } else {
                nul_at(v, &child(k.clone()))
            }
        }),
        _ => None,
    }
}

fn to_api_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    if inner.is_syntax() || inner.is_eof() || inner.is_io() {
        return ApiError::invalid(
            "body_invalid_json",
            None,
            &format!("The body is not valid JSON: {inner}"),
        );
    }
    let message = without_position(&inner.to_string());
    let param = match unknown_field(&message) {
        Some(field) => Some(join(&path, field)),
        None if path != "." => Some(path),
        None => None,
    };
    let message = match &param {
        Some(p) if !message.contains(" field `") => format!("{p}: {message}"),
        _ => message,
    };
    ApiError::invalid("parameter_invalid", param.as_deref(), &message)
}

/// serde_json appends " at line L column C", which means nothing to a client
/// that did not type the JSON by hand.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The field an "unknown field" or "missing field" message names.
pub(super) fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?
        .split_once('`')
        .map(|(field, _)| field)
}

/// The unknown field's full path; serde_path_to_error may already end with it.
fn join(path: &str, field: &str) -> String {
    if path == "." {
        field.to_owned()
    } else if path == field || path.ends_with(&format!(".{field}")) {
        path.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        amount_msat: crate::domain::Msat,
        name: Option<String>,
    }

    fn err(body: &str) -> ApiError {
        parse::<Req>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn errors_name_the_field() {
        for body in [
            r#"{"amount_msat": -1}"#,
            r#"{"amount_msat": 1.5}"#,
            r#"{"amount_msat": 100000000000000000000000}"#,
            r#"{"amount_msat": 2100000000000000001}"#,
            r#"{"amount_msat": "12"}"#,
        ] {
            let e = err(body);
            assert_eq!(e.param.as_deref(), Some("amount_msat"), "{body}: {e:?}");
            assert!(!e.message.contains("line"), "{e:?}");
        }
        let e = err(r#"{"amount_msat": 1, "colour": "red"}"#);
        assert_eq!(e.param.as_deref(), Some("colour"), "{e:?}");
        assert!(e.message.contains("colour"));
        let e = err(r#"{"amount_msat": 1,"#);
        assert_eq!((e.code, e.param), ("body_invalid_json", None));
        let e = err(r#"{"amount_msat": 1} x"#);
        assert_eq!(e.code, "body_invalid_json");
        for body in ["[]", "[1]", "null", "42", "\"x\""] {
            assert_eq!(err(body).code, "body_not_object", "{body}");
        }
        assert_eq!(err("[1,").code, "body_invalid_json");
        let e = err("");
        assert_eq!(e.param.as_deref(), Some("amount_msat"), "{e:?}");
        assert!(e.message.contains("amount_msat"), "{e:?}");
    }

    #[test]
    fn text_the_database_cannot_store_is_refused_naming_the_field() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Nested {
            name: Option<String>,
            tags: Option<Vec<String>>,
            metadata: Option<std::collections::BTreeMap<String, String>>,
        }
        let err = |body: &str| parse::<Nested>(body.as_bytes()).unwrap_err();
        for (body, param) in [
            (r#"{"name": "a\u0000b"}"#, "name"),
            (r#"{"name": "\u0000"}"#, "name"),
            (r#"{"tags": ["ok", "x\u0000"]}"#, "tags[1]"),
            (r#"{"metadata": {"k": "v\u0000"}}"#, "metadata.k"),
            (r#"{"metadata": {"k\u0000": "v"}}"#, "metadata"),
            (r#"{"name": "\ud800"}"#, "name"),
            (r#"{"name": "a\udfff"}"#, "name"),
            (r#"{"name": "\ud800\u0041"}"#, "name"),
            (r#"{"tags": ["\ud83d"]}"#, "tags[0]"),
            (r#"{"metadata": {"k": "\udc00"}}"#, "metadata.k"),
            ("{\"name\": \"a\u{0}b\"}", "name"),
        ] {
            let e = err(body);
            assert_eq!(
                (e.code, e.param.as_deref()),
                ("parameter_invalid", Some(param)),
                "{body}: {e:?}"
            );
        }
        // A NUL in an unknown top-level key is named, escaped.
        let e = err(r#"{"na\u0000me": "x"}"#);
        assert_eq!(e.param.as_deref(), Some("na\\u0000me"), "{e:?}");
        // Only a body with an escape or a raw control character is scanned twice.
        assert!(!may_hold_unstorable_text(
            br#"{"name": "Bob's plan", "n": 1}"#
        ));
        assert!(!may_hold_unstorable_text(b"{\n\t\"name\": \"x\"\r\n}"));
        assert!(may_hold_unstorable_text(br#"{"name": "\u00e9"}"#));
        assert!(may_hold_unstorable_text(b"{\"name\": \"a\0b\"}"));
        // A surrogate pair is one character, and fine.
        let ok: Nested = parse(r#"{"name": "\ud83d\ude00"}"#.as_bytes()).unwrap();
        assert_eq!(ok.name.as_deref(), Some("\u{1F600}"));
    }
}
