//! The customer portal from the tests' side: sign-in links made through the
//! API or found in an email, and signing in with one (a [`Dashboard`]
//! client is a plain browser-like HTTP client: cookies, CSRF tokens).

use serde_json::json;

use super::app::Api;
use super::dashboard::{Dashboard, Page};

/// The path and query of `url` (`http://host:port/portal/login/x` -> `/portal/login/x`).
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or("/".to_owned(), |i| rest[i..].to_owned())
}

/// The first portal sign-in link in `text`, as a path.
pub fn link_in(text: &str) -> Option<String> {
    let at = text.find("/portal/login/")?;
    let token: String = text[at + "/portal/login/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Some(format!("/portal/login/{token}"))
}

/// A sign-in link for `customer` made through the API, as a path.
pub async fn api_link(api: &Api, customer: &str) -> String {
    let r = api
        .post(&format!("/v1/customers/{customer}/portal_links"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    path_of(r.body["url"].as_str().unwrap())
}

/// Opens the link's page and presses "Sign in": the answer to that POST.
pub async fn use_link(web: &mut Dashboard, link: &str) -> Page {
    web.post(link, link, &[]).await
}

/// Signs in with `link`; the client then holds the portal session.
pub async fn sign_in(web: &mut Dashboard, link: &str) {
    let page = use_link(web, link).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location.as_deref(), Some("/portal"));
    assert!(web.has_cookie("pushbill_portal"));
}
