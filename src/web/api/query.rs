//! `ApiQuery<T>`: the query-string extractor of list endpoints. Like
//! [`super::json::ApiJson`], it authenticates first, so a request without a
//! valid key is a 401 whatever its parameters, and a bad parameter is a 400
//! naming it: a value (or name) holding a NUL character (`%00`) too, which
//! the database could not store or compare.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use super::auth::authenticate;
use super::error::ApiError;
use super::json::unknown_field;
use crate::domain::text;

pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            authenticate(&req).await?;
            parse(req.query_string()).map(ApiQuery)
        })
    }
}

fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let nul = url::form_urlencoded::parse(query.as_bytes())
        .find(|(name, value)| text::has_nul(name) || text::has_nul(value));
    if let Some((name, _)) = nul {
        let name = name.replace('\0', "\\u0000");
        return Err(ApiError::invalid(
            "parameter_invalid",
            Some(&name),
            &format!("{name}: {}", text::NUL_REFUSED),
        ));
    }
    web::Query::<T>::from_query(query)
        .map(web::Query::into_inner)
        .map_err(|e| {
            let message = match &e {
                actix_web::error::QueryPayloadError::Deserialize(d) => d.to_string(),
                other => other.to_string(),
            };
            let param = unknown_field(&message);
            ApiError::invalid("parameter_invalid", param, &message)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<String>,
        status: Option<String>,
    }

    #[test]
    fn unknown_parameters_are_named() {
        let q: Q = parse("limit=5&status=active").unwrap();
        assert_eq!(q.limit.as_deref(), Some("5"));
        let e = parse::<Q>("colour=red").unwrap_err();
        assert_eq!(
            (e.code, e.param.as_deref()),
            ("parameter_invalid", Some("colour"))
        );
        assert!(e.message.contains("colour"));
    }

    #[test]
    fn a_nul_character_is_refused_naming_the_parameter() {
        for (query, param) in [
            ("status=%00", "status"),
            ("limit=5&status=act%00ive", "status"),
            ("limit=%005", "limit"),
            ("sta%00tus=active", "sta\\u0000tus"),
        ] {
            let e = parse::<Q>(query).unwrap_err();
            assert_eq!(
                (e.code, e.param.as_deref()),
                ("parameter_invalid", Some(param)),
                "{query}"
            );
            assert!(e.message.contains("NUL"), "{e:?}");
        }
    }
}
