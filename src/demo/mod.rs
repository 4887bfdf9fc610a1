//! `pushbill demo` and the dashboard's "Start the demo subscribers" button:
//! the demo's two plans and its subscribers, real `pushbill payer` nodes
//! (child processes on the sandbox's chain, [`payers`]), each subscribed
//! through the handshake with a grant of its own, so that advancing the
//! merchant's test clock shows invoices pushed, paid, retried and going
//! unpaid (docs/sandbox.md).
//!
//! [`populate`] does the plans and subscribers for one merchant, talking to
//! the running `pushbill serve` like a merchant would (the REST API with
//! that merchant's key). `pushbill demo` ([`start`]) runs it for a new demo
//! merchant; the button ([`runs`]) for the signed-in merchant, on a
//! background task of `serve`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, DurationRound, Utc};
use rand::Rng;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::auth::api_keys::{self, Mode};
use crate::catalog::accounts::{self, SignUp};
use crate::config::{Network, Settings};
use crate::store;

mod payers;
pub mod runs;
/// How a simulated subscriber behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A grant of the plan's amount per month, and money enough: pays.
    Pays,
    /// A channel of 30,000 sat: pays the first month, then cannot.
    SmallChannel,
    /// Subscribes, pays the first invoice, then goes offline for good.
    Offline,
    /// Pays the first invoice, then revokes its grant.
    Revokes,
    /// A grant that ends 20 days on: the next month's push is held for
    /// approval.
    GrantEnds,
    /// The stream plan (1,000 sat each minute of one hour), with a grant of
    /// 1,000 sat per minute that ends with the stream.
    Streams,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Pays => "pays every month",
            Kind::SmallChannel => "small channel: pays once, then fails",
            Kind::Offline => "goes offline after the first payment",
            Kind::Revokes => "revokes its grant after the first payment",
            Kind::GrantEnds => "grant ends after 20 days",
            Kind::Streams => "streams 1,000 sat a minute for an hour",
        }
    }
}

/// The first `n` subscribers: every kind early, then more that pay.
pub fn cast(n: usize) -> Vec<Kind> {
    let order = [
        Kind::Pays,
        Kind::SmallChannel,
        Kind::Offline,
        Kind::Revokes,
        Kind::Streams,
        Kind::GrantEnds,
    ];
    (0..n)
        .map(|i| order.get(i).copied().unwrap_or(Kind::Pays))
        .collect()
}

/// What `pushbill demo` made, for people.
pub struct Demo {
    pub merchant_id: String,
    pub email: String,
    pub password: String,
    pub api_key: String,
    pub subscribers: Vec<Subscriber>,
}

/// A simulated subscriber. Its payer is killed when this is dropped.
pub struct Subscriber {
    pub kind: Kind,
    pub dir: PathBuf,
    pub node_id: String,
    /// The running payer, `None` once it went offline.
    child: Option<Child>,
}

impl Subscriber {
    /// Stops the payer if it still runs.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }
}

impl Demo {
    /// Stops the payers that still run.
    pub async fn stop(&mut self) {
        for s in &mut self.subscribers {
            s.stop().await;
        }
    }
}

/// A merchant's API on the running service, as the demo uses it.
pub struct Api {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    /// The API at `url` (the service's base URL) with a key's secret.
    pub fn new(url: &str, key: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            url: url.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{path}: is `pushbill serve` running at {}?", self.url))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{path}: {status}: {body}");
        }
        Ok(body)
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    fn id(value: &Value) -> anyhow::Result<String> {
        value["id"]
            .as_str()
            .map(str::to_owned)
            .context("an object without an id")
    }
}

/// `pushbill demo`: creates a demo merchant (a dashboard user and an API
/// key) on the sandbox served at `url`, then its plans and `kinds`
/// subscribers ([`populate`]).
pub async fn start(
    settings: &Settings,
    url: &str,
    kinds: &[Kind],
    log: &mut (dyn std::io::Write + Send),
) -> anyhow::Result<Demo> {
    sandbox_chain(settings)?;
    let db = store::connect(settings.database_url(), 2).await?;
    let tag: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(6)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect();
    let email = format!("demo-{tag}@example.com");
    let password: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(16)
        .map(char::from)
        .collect();
    let (merchant, _owner) = accounts::sign_up(
        &db,
        Utc::now(),
        SignUp {
            business_name: format!("Demo shop {tag}"),
            email: email.clone(),
            password: password.clone(),
        },
    )
    .await?;
    let key = api_keys::create(&db, Utc::now(), &merchant.id, "demo", Mode::Test).await?;
    db.close().await.ok();
    let api = Api::new(url, &key.secret);
    writeln!(log, "merchant {} ({email})", merchant.id)?;
    let subscribers = populate(settings, &api, &merchant.id, kinds, log).await?;
    Ok(Demo {
        merchant_id: merchant.id,
        email,
        password,
        api_key: key.secret,
        subscribers,
    })
}

/// The demo for one merchant: creates its two plans through `api` (that
/// merchant's key) and `kinds` subscribers, and returns once every
/// subscriber's first invoice is paid (and the revoker has revoked, the
/// offline one gone). The subscribers' folders are
/// `<sandbox data>/demo/<merchant>/subscriber-NN`. On an error the payers
/// started so far are killed (dropped).
pub async fn populate(
    settings: &Settings,
    api: &Api,
    merchant_id: &str,
    kinds: &[Kind],
    log: &mut (dyn std::io::Write + Send),
) -> anyhow::Result<Vec<Subscriber>> {
    let data = sandbox_chain(settings)?;
    let now = clock_now(api).await?;
    let monthly = Api::id(
        &api.post(
            "/v1/plans",
            json!({"name": "Monthly", "amount_msat": 21_000_000, "interval": "month"}),
        )
        .await?,
    )?;
    let stream_hour = stream_hour(now);
    let stream = Api::id(
        &api.post(
            "/v1/plans",
            json!({"name": format!("Stream {}", stream_hour.format("%Y-%m-%d %H:00 UTC")),
                   "amount_msat": 1_000_000, "interval": "cron",
                   "cron_expression": stream_cron(stream_hour)}),
        )
        .await?,
    )?;
    writeln!(
        log,
        "plans: Monthly 21,000 sat a month ({monthly}); Stream 1,000 sat each minute of {} ({stream})",
        stream_hour.format("%Y-%m-%d %H:00 UTC")
    )?;

    let root = folder(settings, merchant_id);
    let mut subscribers = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let dir = root.join(format!("subscriber-{:02}", i + 1));
        std::fs::create_dir_all(&dir)?;
        let channel_sat = if *kind == Kind::SmallChannel {
            30_000
        } else {
            200_000
        };
        let child = payers::spawn(&data, &dir, channel_sat)?;
        subscribers.push(Subscriber {
            kind: *kind,
            dir,
            node_id: String::new(),
            child: Some(child),
        });
    }
    writeln!(
        log,
        "{} payers started; waiting for their channels (3 blocks)",
        subscribers.len()
    )?;
    for s in &mut subscribers {
        let status = payers::wait_json(&s.dir, &["status"], Duration::from_secs(180), |v| {
            v["node"]["channels"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["state"] == "usable"))
        })
        .await
        .with_context(|| format!("{}: no usable channel", s.dir.display()))?;
        s.node_id = status["node"]["node_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
    }

    for (i, s) in subscribers.iter().enumerate() {
        let plan = if s.kind == Kind::Streams {
            &stream
        } else {
            &monthly
        };
        let code = api
            .post("/v1/subscribe_codes", json!({"plan": plan}))
            .await?;
        let code = code["code"].as_str().context("subscribe code")?.to_owned();
        let mut args = vec![
            "subscribe".to_owned(),
            code,
            "--yes".into(),
            "--email".into(),
            format!("subscriber-{:02}@example.com", i + 1),
            "--label".into(),
            s.kind.label().into(),
        ];
        match s.kind {
            Kind::Streams => {
                args.extend(["--cap-sat", "1000", "--per", "minute"].map(String::from));
                args.extend([
                    "--until".into(),
                    (stream_hour + chrono::Duration::hours(1)).to_rfc3339(),
                ]);
            }
            Kind::GrantEnds => args.extend([
                "--until".into(),
                (now + chrono::Duration::days(20)).to_rfc3339(),
            ]),
            _ => {}
        }
        let out = payers::command(&s.dir, &args).await?;
        if !out.contains("Subscribed") {
            bail!("{}: subscribing failed: {out}", s.dir.display());
        }
        writeln!(
            log,
            "subscriber {:02} {}: {}",
            i + 1,
            short(&s.node_id),
            s.kind.label()
        )?;
    }

    writeln!(log, "waiting for the first invoices to be paid")?;
    for (i, s) in subscribers.iter_mut().enumerate() {
        payers::wait_json(&s.dir, &["payments"], Duration::from_secs(120), |v| {
            v.as_array()
                .is_some_and(|p| p.iter().any(|p| p["status"] == "paid"))
        })
        .await
        .with_context(|| format!("{}: the first invoice was not paid", s.dir.display()))?;
        writeln!(log, "subscriber {:02}: first invoice paid", i + 1)?;
        match s.kind {
            Kind::Revokes => {
                let grants = payers::json(&s.dir, &["grants", "list"]).await?;
                let id = grants[0]["id"].as_str().context("grant id")?.to_owned();
                payers::command(&s.dir, &["grants".into(), "revoke".into(), id]).await?;
                // Until the merchant acknowledged it (and set the
                // subscription to cancel at its period's end).
                payers::wait_json(&s.dir, &["grants", "list"], Duration::from_secs(60), |v| {
                    v[0]["status"] != "active" && v[0]["end_notice_pending"] == false
                })
                .await
                .with_context(|| {
                    format!("{}: the merchant did not take the revoke", s.dir.display())
                })?;
                writeln!(log, "subscriber {:02}: grant revoked", i + 1)?;
            }
            Kind::Offline => {
                s.stop().await;
                writeln!(log, "subscriber {:02}: payer stopped (offline)", i + 1)?;
            }
            _ => {}
        }
    }
    Ok(subscribers)
}

/// The sandbox's data folder, once `pushbill serve` (the sandbox, with its
/// chain simulator) runs there: where the payers find its chain and node.
fn sandbox_chain(settings: &Settings) -> anyhow::Result<PathBuf> {
    if settings.app.network != Network::Sandbox {
        bail!("app.network: the demo runs on the sandbox only");
    }
    let data = sandbox_data(settings);
    if !payer::sandbox::path(&data).exists() {
        bail!(
            "{} is missing: start `pushbill serve` (the sandbox) in this folder first",
            payer::sandbox::path(&data).display()
        );
    }
    Ok(data)
}

/// The merchant's demo subscribers' folder.
pub fn folder(settings: &Settings, merchant_id: &str) -> PathBuf {
    sandbox_data(settings).join("demo").join(merchant_id)
}

/// Where the sandbox keeps its data (`./data` by default): the folder of
/// the chain simulator's.
fn sandbox_data(settings: &Settings) -> PathBuf {
    let data = settings
        .lightning
        .simnet_data_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    data.to_path_buf()
}

/// The merchant's clock: its test clock, or wall time without one.
async fn clock_now(api: &Api) -> anyhow::Result<DateTime<Utc>> {
    Ok(match api.get("/v1/test_clock").await {
        Ok(clock) => clock["now"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.to_utc())
            .unwrap_or_else(Utc::now),
        Err(_) => Utc::now(),
    })
}

/// The hour the stream plan bills in: the first full hour after `now`.
pub fn stream_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    let hour = now
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap_or(now);
    hour + chrono::Duration::hours(1)
}

/// Fires at each minute of `hour` and never again, so the stream's
/// subscription bills at most an hour of minutes and then ends (a month's
/// jump of the test clock cannot make 43,200 invoices of it).
pub fn stream_cron(hour: DateTime<Utc>) -> String {
    // Seconds, minutes, hour, day of month, month, day of week, year.
    hour.format("0 * %H %d %m * %Y").to_string()
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Schedule;

    #[test]
    fn the_stream_bills_each_minute_of_the_next_full_hour_and_then_never() {
        let now = DateTime::parse_from_rfc3339("2026-12-31T23:17:42Z")
            .unwrap()
            .to_utc();
        let hour = stream_hour(now);
        assert_eq!(hour.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let cron = stream_cron(hour);
        let Schedule::Cron(schedule) = Schedule::cron(&cron).unwrap() else {
            panic!("{cron} is not a cron schedule");
        };
        let mut fires = Vec::new();
        let mut t = now;
        while let Some(next) = schedule.next_after(t) {
            fires.push(next);
            t = next;
        }
        assert_eq!(fires.len(), 60, "{cron}");
        assert_eq!(fires[0], hour);
        assert_eq!(fires[59], hour + chrono::Duration::minutes(59));
    }
}
