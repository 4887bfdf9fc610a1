//! Spawning the app on a fresh database, and shortcuts the tests share.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pushbill::app::Application;
use pushbill::billing::payments::{self, InvoiceIssuer, IssueError, IssueRequest, IssuedInvoice};
use pushbill::billing::{engine, lifecycle};
use pushbill::catalog::{self, customers::NewCustomer, plans::NewPlan};
use pushbill::clock::{Clock, TestClock};
use pushbill::config::{Role, Settings};
use pushbill::context::Context;
use pushbill::domain::{Interval, Msat, NodeId, Schedule};
use pushbill::notify::webhooks;
use pushbill::store::{
    self, customers, events, invoices, merchants, payment_requests, plans, sandbox_clock,
    subscriptions,
};
use pushbill::telemetry;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Where every test clock starts: December 2027, so a year of billing
/// crosses February 2028 (a leap year).
pub fn t0() -> DateTime<Utc> {
    "2027-12-01T00:00:00Z".parse().unwrap()
}

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A node id that is a valid point on the curve (the secp256k1 generator).
pub const NODE: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

/// An empty database: a throwaway PostgreSQL database when
/// PUSHBILL_TEST_POSTGRES_URL is set, else a SQLite file in a temp folder.
pub struct TestDatabase {
    pub url: String,
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
}

pub async fn fresh_database() -> TestDatabase {
    match std::env::var("PUSHBILL_TEST_POSTGRES_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!(
                "pushbill_test_{}",
                ulid::Ulid::new().to_string().to_lowercase()
            );
            let url = store::create_postgres_database(&admin, &name)
                .await
                .expect("create a throwaway PostgreSQL database");
            TestDatabase {
                url,
                backend: "postgresql",
                _dir: None,
            }
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/pushbill.db", dir.path().display());
            TestDatabase {
                url,
                backend: "sqlite",
                _dir: Some(dir),
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub db: DatabaseConnection,
    pub clock: Arc<TestClock>,
    pub database: TestDatabase,
    pub http: reqwest::Client,
    pub context: Context,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The app with the web role on port 0, a test clock at [`t0`], and a fresh
/// database. The billing engine is driven by the tests (see [`TestApp::advance`]).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with changed settings (e.g. a tiny rate limit, more roles,
/// webhook options).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let database = fresh_database().await;
    let mut settings = test_settings(&database.url);
    configure(&mut settings);
    telemetry::init(&settings.log);
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let context = app.context().clone();
    let clock = Arc::clone(context.clocks.test_clock().expect("test clock"));
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move { app.run_until_stopped(stop).await });
    TestApp {
        address,
        db: context.db.clone(),
        clock,
        database,
        http: reqwest::Client::new(),
        context,
        shutdown,
    }
}

pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::from_defaults_and(&format!(
        "[http]\nport = 0\n[database]\nurl = \"{database_url}\"\n\
         [clock]\nmode = \"test\"\nstart = \"{}\"\n[log]\nfilter = \"warn\"\n",
        t0().to_rfc3339()
    ))
    .expect("test settings");
    settings.app.roles = vec![Role::Web];
    // Tests fire requests as fast as loopback allows; the rate limit's own
    // test sets a small one.
    settings.api.rate_limit_burst = 100_000;
    // Wallet connection secrets are sealed with a key of the test's own.
    settings.nwc.key = Some(hex::encode(rand::random::<[u8; 32]>()).into());
    settings
}

/// Stands in for the Lightning node behind the payment-request queue until
/// the LDK node lands: issues a unique fake BOLT11 and payment hash.
pub struct TestIssuer {
    pub clock: Arc<TestClock>,
}

#[async_trait::async_trait]
impl InvoiceIssuer for TestIssuer {
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedInvoice, IssueError> {
        let hash: String = (0..32)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        Ok(IssuedInvoice {
            bolt11: format!("lnbcrt{}test{}", request.amount.as_u64(), &hash[..16]),
            payment_hash: hash,
            expires_at: self.clock.now() + request.expiry,
        })
    }
}

/// [`TestIssuer`] that keeps what the node was asked to issue.
pub struct RecordingIssuer {
    pub asked: std::sync::Mutex<Vec<IssueRequest>>,
    inner: TestIssuer,
}

impl RecordingIssuer {
    pub fn new(app: &TestApp) -> Self {
        Self {
            asked: Default::default(),
            inner: TestIssuer {
                clock: app.clock.clone(),
            },
        }
    }
}

#[async_trait::async_trait]
impl InvoiceIssuer for RecordingIssuer {
    async fn issue(&self, request: &IssueRequest) -> Result<IssuedInvoice, IssueError> {
        self.asked.lock().unwrap().push(request.clone());
        self.inner.issue(request).await
    }
}

impl TestApp {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Time passes for everyone, as it does off the sandbox: moves the
    /// deployment's clock and every merchant's clock, then runs the billing
    /// engine for everyone, as a scheduler tick would. (One merchant moving
    /// its own clock: [`Api::advance`].)
    pub async fn advance(&self, by: Duration) -> engine::RunOutcome {
        self.advance_to(self.now() + by).await
    }

    pub async fn advance_to(&self, to: DateTime<Utc>) -> engine::RunOutcome {
        self.set_time(to).await;
        self.run_billing().await
    }

    /// Moves every clock to `to`, as [`TestApp::advance_to`] does, but
    /// before the scheduler's next run.
    pub async fn set_time(&self, to: DateTime<Utc>) {
        self.clock.set(to).unwrap();
        sandbox_clock::Entity::update_many()
            .col_expr(sandbox_clock::Column::Now, Expr::value(to))
            .col_expr(sandbox_clock::Column::UpdatedAt, Expr::value(to))
            .filter(sandbox_clock::Column::Id.ne(sandbox_clock::DEPLOYMENT))
            .filter(sandbox_clock::Column::Now.lt(to))
            .exec(&self.db)
            .await
            .unwrap();
    }

    /// Fans out every waiting event and sends every webhook due at the test
    /// clock's time, as the worker role would, and waits for the answers.
    pub async fn deliver_webhooks(&self) -> webhooks::Drained {
        let sender = webhooks::delivery::Sender::new(&self.context.settings).unwrap();
        webhooks::drain(&self.context, &sender)
            .await
            .expect("webhook delivery")
    }

    /// A billing run for everyone at the deployment's time (where
    /// [`TestApp::advance`] keeps every merchant's clock).
    pub async fn run_billing(&self) -> engine::RunOutcome {
        engine::run_due(&self.db, self.now(), 50, &engine::Scope::All)
            .await
            .expect("billing run")
    }

    pub async fn merchant(&self) -> merchants::Model {
        catalog::merchants::create(&self.db, self.now(), "Bobflix", "BOB")
            .await
            .unwrap()
    }

    pub async fn monthly_plan(&self, merchant: &merchants::Model) -> plans::Model {
        self.plan(
            merchant,
            NewPlan::new(
                "Monthly",
                sat(10_000),
                Schedule::every(Interval::Month, 1).unwrap(),
            ),
        )
        .await
    }

    /// A monthly 5,000 sat plan with a 14-day trial.
    pub async fn trial_plan(&self, merchant: &merchants::Model) -> plans::Model {
        let mut plan = NewPlan::new(
            "Trial plan",
            sat(5_000),
            Schedule::every(Interval::Month, 1).unwrap(),
        );
        plan.trial = Duration::days(14);
        self.plan(merchant, plan).await
    }

    pub async fn plan(&self, merchant: &merchants::Model, plan: NewPlan) -> plans::Model {
        catalog::plans::create(&self.db, self.now(), &merchant.id, plan)
            .await
            .unwrap()
    }

    /// A customer with a Lightning node, so invoices are pushed.
    pub async fn customer(&self, merchant: &merchants::Model) -> customers::Model {
        let new = NewCustomer {
            email: Some("alice@example.com".parse().unwrap()),
            node_id: Some(NodeId::parse(NODE).unwrap()),
            ..NewCustomer::default()
        };
        catalog::customers::create(&self.db, self.now(), &merchant.id, new)
            .await
            .unwrap()
    }

    pub async fn subscribe(
        &self,
        merchant: &merchants::Model,
        customer: &customers::Model,
        plan: &plans::Model,
        anchor: Option<DateTime<Utc>>,
    ) -> subscriptions::Model {
        let new = lifecycle::NewSubscription {
            customer_id: customer.id.clone(),
            plan_id: plan.id.clone(),
            billing_anchor: anchor,
            ..Default::default()
        };
        lifecycle::create(&self.db, self.now(), &merchant.id, new)
            .await
            .unwrap()
            .0
    }

    pub async fn subscription(&self, id: &str) -> subscriptions::Model {
        subscriptions::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// The subscription's invoices in period order.
    pub async fn invoices_of(&self, sub_id: &str) -> Vec<invoices::Model> {
        invoices::Entity::find()
            .filter(invoices::Column::SubscriptionId.eq(sub_id))
            .order_by_asc(invoices::Column::PeriodStart)
            .all(&self.db)
            .await
            .unwrap()
    }

    pub async fn invoice(&self, id: &str) -> invoices::Model {
        invoices::Entity::find_by_id(id)
            .one(&self.db)
            .await
            .unwrap()
            .unwrap()
    }

    pub async fn payment_requests_of(&self, invoice_id: &str) -> Vec<payment_requests::Model> {
        payment_requests::Entity::find()
            .filter(payment_requests::Column::InvoiceId.eq(invoice_id))
            .order_by_asc(payment_requests::Column::Id)
            .all(&self.db)
            .await
            .unwrap()
    }

    /// Event types recorded about one object, oldest first.
    pub async fn event_types(&self, object_id: &str) -> Vec<String> {
        events::for_object(&self.db, object_id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect()
    }

    /// Has the "node" issue every pending payment request (expiring after `expiry`).
    pub async fn issue_pending(&self, expiry: Duration) -> usize {
        let issuer = TestIssuer {
            clock: self.clock.clone(),
        };
        payments::issue_pending(&self.db, &issuer, self.now(), expiry, 1000)
            .await
            .unwrap()
    }

    /// The customer pays the invoice's live payment request in full.
    pub async fn pay(&self, invoice_id: &str) -> payments::Settlement {
        self.issue_pending(Duration::hours(24)).await;
        let req = self
            .payment_requests_of(invoice_id)
            .await
            .into_iter()
            .find(|r| r.status == "issued")
            .expect("an issued payment request");
        let hash = req.payment_hash.unwrap();
        let amount = Msat::try_from(req.amount_msat).unwrap();
        assert_eq!(
            payments::check_payment(&self.db, &hash, amount)
                .await
                .unwrap(),
            Ok(())
        );
        payments::settle(&self.db, &self.context.clocks, &hash, amount)
            .await
            .unwrap()
    }

    /// Pays every open invoice.
    pub async fn pay_all_open(&self) {
        let open = invoices::Entity::find()
            .filter(invoices::Column::Status.eq("open"))
            .all(&self.db)
            .await
            .unwrap();
        for invoice in open {
            self.pay(&invoice.id).await;
        }
    }
}

pub fn sat(n: u64) -> Msat {
    Msat::from_sat(n).unwrap()
}

/// An answer from the API: every answer, errors included, is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: serde_json::Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// `error.param` of an error answer.
    pub fn param(&self) -> &str {
        self.body["error"]["param"].as_str().unwrap_or_default()
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().expect("an id").to_owned()
    }
}

/// A client of the REST API authenticated as one merchant.
pub struct Api {
    pub address: String,
    pub http: reqwest::Client,
    pub merchant_id: String,
    pub key: String,
}

impl Api {
    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.http.delete(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> Reply {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> Reply {
        self.send_raw(reqwest::Method::POST, path, body).await
    }

    /// Any method with a raw JSON body.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let req = self
            .http
            .request(method, self.url(path))
            .header("content-type", "application/json")
            .body(body);
        self.send(req).await
    }

    pub async fn post_with_key(
        &self,
        path: &str,
        body: serde_json::Value,
        idempotency_key: &str,
    ) -> Reply {
        let req = self
            .http
            .post(self.url(path))
            .header("Idempotency-Key", idempotency_key)
            .json(&body);
        self.send(req).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("request sent");
        reply(res).await
    }

    /// This merchant moves its own test clock by `secs` (the billing engine
    /// runs for it); returns the clock's new time.
    pub async fn advance(&self, secs: i64) -> DateTime<Utc> {
        let r = self
            .post("/v1/test_clock/advance", json!({"seconds": secs}))
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.body["now"].as_str().unwrap().parse().unwrap()
    }

    /// This merchant's test clock.
    pub async fn test_clock(&self) -> DateTime<Utc> {
        let r = self.get("/v1/test_clock").await;
        assert_eq!(
            (r.status, r.body["object"].clone()),
            (200, json!("test_clock")),
            "{r:?}"
        );
        r.body["now"].as_str().unwrap().parse().unwrap()
    }

    /// A monthly plan at 10,000 sat.
    pub async fn monthly_plan(&self) -> String {
        let r = self
            .post(
                "/v1/plans",
                serde_json::json!({"name": "Monthly", "amount_msat": 10_000_000, "interval": "month"}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.id()
    }

    pub async fn customer(&self) -> String {
        let r = self
            .post(
                "/v1/customers",
                serde_json::json!({"email": "alice@example.com", "node_id": NODE}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.id()
    }

    pub async fn subscription(&self, customer: &str, plan: &str) -> String {
        let r = self
            .post(
                "/v1/subscriptions",
                serde_json::json!({"customer": customer, "plan": plan}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        r.id()
    }
}

pub async fn reply(res: reqwest::Response) -> Reply {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("a JSON body, got {status}: {text:?}"));
    assert_ne!(status, 500, "no request may fail with a 500: {text}");
    Reply {
        status,
        body,
        headers,
    }
}

impl TestApp {
    /// A new merchant with an API key of the deployment's mode, and a
    /// client using it.
    pub async fn api(&self) -> Api {
        let (merchant, key) = catalog::merchants::create_with_api_key(
            &self.db,
            self.now(),
            "Bobflix",
            "BOB",
            pushbill::auth::api_keys::Mode::for_network(self.context.settings.app.network),
            false,
        )
        .await
        .unwrap();
        Api {
            address: self.address.clone(),
            http: self.http.clone(),
            merchant_id: merchant.id,
            key: key.secret,
        }
    }

    /// A client with any key (or none, when empty).
    pub fn api_with_key(&self, key: &str) -> Api {
        Api {
            address: self.address.clone(),
            http: self.http.clone(),
            merchant_id: String::new(),
            key: key.to_owned(),
        }
    }
}

/// A plan of 10000.5 sat a month (not a whole number of sat).
pub async fn odd_plan(app: &TestApp, merchant: &merchants::Model) -> pushbill::store::plans::Model {
    app.plan(
        merchant,
        NewPlan::new(
            "Odd",
            Msat::from_msat(10_000_500).unwrap(),
            Schedule::every(Interval::Month, 1).unwrap(),
        ),
    )
    .await
}

/// Registers a webhook endpoint; returns its id and secret.
pub async fn endpoint(api: &Api, url: &str, events: Value) -> (String, String) {
    let r = api
        .post(
            "/v1/webhook_endpoints",
            json!({"url": url, "enabled_events": events}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    (r.id(), r.body["secret"].as_str().unwrap().to_owned())
}
