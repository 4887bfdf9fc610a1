//! A plain HTTP client of the dashboard: keeps its cookies, follows no
//! redirect (the tests read them), and reads the CSRF token and ids out of
//! the pages it gets.

use std::collections::BTreeMap;

use reqwest::redirect::Policy;

use super::app::TestApp;

/// A password the tests sign up with.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    /// The `Retry-After` header, when there is one.
    pub retry_after: Option<String>,
    pub body: String,
}

impl Page {
    /// The CSRF token of the page's forms.
    pub fn csrf(&self) -> String {
        csrf_in(&self.body).unwrap_or_else(|| panic!("no CSRF token in {}", self.body))
    }

    pub fn has_id(&self, id: &str) -> bool {
        self.body.contains(&format!("id=\"{id}\""))
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let at = html.find(marker)? + marker.len();
    let len = html[at..].find('"')?;
    Some(html[at..at + len].to_owned())
}

pub struct Dashboard {
    pub address: String,
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

impl Dashboard {
    pub fn new(app: &TestApp) -> Self {
        Self::at(&app.address)
    }

    /// A client of the dashboard served at `address` (a `pushbill serve`
    /// child process, say), e.g. `http://127.0.0.1:8080`.
    pub fn at(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.contains_key(name)
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.address));
        self.send(req).await
    }

    /// Posts a form as it is: no CSRF token is added.
    pub async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self
            .http
            .post(format!("{}{path}", self.address))
            .form(fields);
        self.send(req).await
    }

    /// Posts a form with `csrf`, the token of the page at `from`.
    pub async fn post(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).await.csrf();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// The `Cookie` header of this client's session.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self.cookie_header();
        let req = if cookie.is_empty() {
            req
        } else {
            req.header("cookie", cookie)
        };
        let res = req.send().await.expect("request sent");
        for value in res.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap();
            let (name, v) = pair.split_once('=').unwrap();
            let removed = value.to_ascii_lowercase().contains("max-age=0") || v.is_empty();
            if removed {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), v.to_owned());
            }
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let retry_after = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.text().await.unwrap();
        assert_ne!(
            status, 500,
            "no dashboard request may fail with a 500: {body}"
        );
        Page {
            status,
            location,
            retry_after,
            body,
        }
    }

    /// Signs up a business; the client is then signed in.
    pub async fn sign_up(&mut self, business: &str, email: &str) -> Page {
        let page = self
            .post(
                "/dashboard/signup",
                "/dashboard/signup",
                &[
                    ("business_name", business),
                    ("email", email),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/dashboard"));
        page
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Page {
        self.post(
            "/dashboard/login",
            "/dashboard/login",
            &[("email", email), ("password", password)],
        )
        .await
    }
}

/// The merchant id of the user signed up with `email`.
pub async fn merchant_of(app: &TestApp, email: &str) -> pushbill::store::merchants::Model {
    use pushbill::store::{merchant_users, merchants};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let user = merchant_users::Entity::find()
        .filter(merchant_users::Column::Email.eq(email))
        .one(&app.db)
        .await
        .unwrap()
        .expect("the user exists");
    merchants::Entity::find_by_id(user.merchant_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}
