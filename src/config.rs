//! Layered configuration: the embedded `config/default.toml`, then
//! `config/<PUSHBILL_ENV>.toml`, then the `--config` file, then
//! `PUSHBILL__SECTION__KEY` environment variables. Validated once at start-up;
//! every error names the key at fault.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const ENV_PREFIX: &str = "PUSHBILL__";

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: `{key}`{source_hint}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
    source_hint: String,
}

impl ConfigError {
    fn new(key: &str, message: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            message: message.into(),
            source_hint: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub app: AppSettings,
    pub http: HttpSettings,
    pub api: ApiSettings,
    pub dashboard: DashboardSettings,
    /// The hosted signup pages' throttles.
    #[serde(default)]
    pub signup: SignupSettings,
    pub database: DatabaseSettings,
    pub clock: ClockSettings,
    pub scheduler: SchedulerSettings,
    pub webhooks: WebhookSettings,
    pub log: LogSettings,
    /// The merchant's Lightning node (node role).
    pub lightning: LightningSettings,
    /// Chain backend for the Lightning node role. Without it, a sandbox
    /// runs the embedded chain simulator.
    #[serde(default)]
    pub bitcoind: Option<BitcoindSettings>,
    /// Outgoing mail for the notifier role.
    #[serde(default)]
    pub smtp: Option<SmtpSettings>,
    /// Nostr Wallet Connect: the key that seals connection secrets at rest,
    /// and how long wallets are waited for.
    #[serde(default)]
    pub nwc: NwcSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NwcSettings {
    /// 64 hex digits: the key that seals wallet connection secrets. When
    /// unset, the key in `key_file` (made on first start, owner-only).
    pub key: Option<SecretString>,
    /// Where the sealing key is kept when `key` is unset. Back it up with the
    /// database: without it, every wallet connection must be made again.
    pub key_file: PathBuf,
    /// How long a wallet is waited for when a subscriber connects it.
    pub connect_timeout_secs: u64,
    /// How long a wallet is waited for to answer `pay_invoice`.
    pub pay_timeout_secs: u64,
    /// Relays on loopback, private and other internal addresses, and plain
    /// `ws://`, are allowed. Unset: on the sandbox and regtest only.
    pub allow_private_relays: Option<bool>,
    /// Where the sandbox's own relay listens (`serve` on the embedded chain
    /// simulator only); a free port when this one is taken.
    pub sandbox_relay_listen: std::net::SocketAddr,
}

fn default_push_max_in_flight() -> u32 {
    16
}

impl Default for NwcSettings {
    fn default() -> Self {
        NwcSettings {
            key: None,
            key_file: PathBuf::from("data/nwc.key"),
            connect_timeout_secs: 15,
            pay_timeout_secs: 60,
            allow_private_relays: None,
            sandbox_relay_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 7777)),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSettings {
    pub network: Network,
    pub base_url: String,
    pub roles: Vec<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Sandbox,
    Regtest,
    Signet,
    Testnet,
    Mainnet,
}

impl Network {
    /// Its name in configuration (`app.network`).
    pub fn as_str(self) -> &'static str {
        match self {
            Network::Sandbox => "sandbox",
            Network::Regtest => "regtest",
            Network::Signet => "signet",
            Network::Testnet => "testnet",
            Network::Mainnet => "mainnet",
        }
    }

    /// The Bitcoin network the node uses (the sandbox runs on regtest).
    pub fn bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Sandbox | Network::Regtest => bitcoin::Network::Regtest,
            Network::Signet => bitcoin::Network::Signet,
            Network::Testnet => bitcoin::Network::Testnet,
            Network::Mainnet => bitcoin::Network::Bitcoin,
        }
    }
}

/// What a `pushbill serve` process runs. Several processes may share one
/// PostgreSQL database, each with its own roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// HTTP: REST API, dashboard, signup pages, health checks.
    Web,
    /// Billing engine: period rolls, invoices, dunning.
    Scheduler,
    /// Notifier: webhook fan-out and delivery (email joins it later).
    Worker,
    /// The Lightning node: BOLT11 invoices, payments, channels. Exactly one
    /// process per database runs it.
    Node,
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "web" => Ok(Role::Web),
            "scheduler" => Ok(Role::Scheduler),
            "worker" => Ok(Role::Worker),
            "node" => Ok(Role::Node),
            other => Err(format!(
                "unknown role `{other}` (expected web, scheduler, worker or node)"
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
}

/// The REST API's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Requests per second each API key may make on average.
    pub rate_limit_per_second: f64,
    /// Requests a key may make at once after a quiet spell.
    pub rate_limit_burst: u32,
}

/// The merchant dashboard's sessions, invitations and login throttle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSettings {
    /// How long a sign-in lasts.
    pub session_hours: u32,
    /// How long an invitation link works.
    pub invite_hours: u32,
    /// The window in which failed sign-ins are counted.
    pub login_window_secs: u32,
    /// Failed sign-ins per account in the window before sign-in is refused.
    pub login_failures_per_account: u32,
    /// Failed sign-ins per client address in the window.
    pub login_failures_per_address: u32,
}

/// The hosted signup pages (`/s/{link}`): what one plan and one client
/// address may create per hour (fixed windows, counted in the database so
/// every web process sees the same counts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupSettings {
    /// Subscribe codes made from one plan's page per hour.
    pub codes_per_plan_per_hour: u32,
    /// "Pay each invoice myself" signups to one plan per hour.
    pub signups_per_plan_per_hour: u32,
    /// Codes and signups (each counted apart) from one client address per hour.
    pub per_address_per_hour: u32,
}

impl Default for SignupSettings {
    fn default() -> Self {
        Self {
            codes_per_plan_per_hour: 60,
            signups_per_plan_per_hour: 60,
            per_address_per_hour: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May hold a password: kept secret.
    pub url: SecretString,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClockMode {
    System,
    Test,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    pub mode: ClockMode,
    #[serde(default)]
    pub start: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerSettings {
    pub tick: String,
    pub batch_size: u32,
    /// Billing loops run at once (PostgreSQL; SQLite has one writer anyway).
    pub workers: u32,
}

/// Outgoing webhooks (the worker role).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Seconds to wait for an endpoint's answer (real time).
    pub timeout_secs: u64,
    /// Deliveries in flight at once in one process (at most one per endpoint).
    pub concurrency: u32,
    /// Milliseconds between looks at the queue when it is idle (real time).
    pub poll_interval_ms: u64,
    /// Delay before each attempt, in seconds; the first is 0 (the first
    /// attempt is immediate). After the last one fails, the delivery gives up.
    pub retry_schedule_secs: Vec<u64>,
    /// Allows endpoints on loopback, private, link-local and other internal
    /// addresses, and plain http. Unset: allowed on the sandbox and regtest
    /// networks only (see [`Settings::webhooks_allow_private`]).
    #[serde(default)]
    pub allow_private_addresses: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LightningSettings {
    /// Where the node listens for peers.
    pub listen: std::net::SocketAddr,
    /// Seed, channel state, network graph: back this folder up.
    pub data_dir: PathBuf,
    /// How long a BOLT11 invoice stays payable.
    pub invoice_expiry_secs: u32,
    /// How often the chain tip is polled.
    pub chain_poll_ms: u64,
    /// Confirmations asked of channels opened to this node.
    pub minimum_depth: u32,
    /// Sandbox without `[bitcoind]`: the embedded chain simulator's folder.
    pub simnet_data_dir: PathBuf,
    /// Sandbox without `[bitcoind]`: a block is mined this often (0: only on demand).
    pub simnet_block_interval_secs: u64,
    /// How long the node waits for a subscriber's node to answer a push.
    pub push_reply_timeout_secs: u64,
    /// Tries before a push that cannot be delivered is given up.
    pub push_max_tries: u32,
    /// Wait before trying an undelivered push again (doubled each time).
    pub push_retry_secs: u64,
    /// Pushes (and wallet requests) in flight at once, each on its own task.
    #[serde(default = "default_push_max_in_flight")]
    pub push_max_in_flight: u32,
    /// `host:port` where subscribers' nodes reach this node, written into
    /// subscribe codes; `listen` when unset.
    #[serde(default)]
    pub public_address: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitcoindSettings {
    pub rpc_url: String,
    pub rpc_user: String,
    pub rpc_password: SecretString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<SecretString>,
    pub from: String,
}

impl Settings {
    /// Loads and validates the configuration from all layers.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Ok(env) = std::env::var("PUSHBILL_ENV") {
            let path = PathBuf::from(format!("config/{env}.toml"));
            if !path.exists() {
                return Err(ConfigError::new(
                    "PUSHBILL_ENV",
                    format!("no file {} for environment `{env}`", path.display()),
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        if let Some(path) = config_file {
            if !path.exists() {
                return Err(ConfigError::new(
                    "--config",
                    format!("file {} does not exist", path.display()),
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        Self::from_figment(figment.merge(Env::prefixed(ENV_PREFIX).split("__")))
    }

    /// The embedded defaults with `overrides` (TOML) on top: for tests and tools.
    pub fn from_defaults_and(overrides: &str) -> Result<Settings, ConfigError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULT_TOML)).merge(Toml::string(overrides)))
    }

    fn from_figment(figment: Figment) -> Result<Settings, ConfigError> {
        let settings: Settings = figment.extract().map_err(figment_error)?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        url::Url::parse(&self.app.base_url)
            .map_err(|e| ConfigError::new("app.base_url", format!("not a URL: {e}")))?;
        if self.app.roles.is_empty() {
            return Err(ConfigError::new("app.roles", "name at least one role"));
        }
        if self.http.host.trim().is_empty() {
            return Err(ConfigError::new("http.host", "must not be empty"));
        }
        let rate = self.api.rate_limit_per_second;
        if !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0) {
            return Err(ConfigError::new(
                "api.rate_limit_per_second",
                "must be more than 0 and at most 1000000",
            ));
        }
        if !(1..=1_000_000).contains(&self.api.rate_limit_burst) {
            return Err(ConfigError::new(
                "api.rate_limit_burst",
                "must be 1 to 1000000",
            ));
        }
        self.validate_dashboard()?;
        let url = self.database.url.expose_secret();
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "database.url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if !url.starts_with("sqlite:") && self.database.max_connections < 2 {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be at least 2 on PostgreSQL",
            ));
        }
        if !(1..=1000).contains(&self.database.max_connections) {
            return Err(ConfigError::new(
                "database.max_connections",
                "must be 1 to 1000",
            ));
        }
        if self.clock.mode == ClockMode::Test && self.app.network != Network::Sandbox {
            return Err(ConfigError::new(
                "clock.mode",
                "the test clock is only allowed on the sandbox network",
            ));
        }
        cron::Schedule::from_str(&self.scheduler.tick)
            .map_err(|e| ConfigError::new("scheduler.tick", format!("not a cron schedule: {e}")))?;
        if !(1..=10_000).contains(&self.scheduler.batch_size) {
            return Err(ConfigError::new(
                "scheduler.batch_size",
                "must be 1 to 10000",
            ));
        }
        if !(1..=self.database.max_connections).contains(&self.scheduler.workers) {
            return Err(ConfigError::new(
                "scheduler.workers",
                "must be at least 1 and at most database.max_connections",
            ));
        }
        self.validate_webhooks()?;
        if let Some(btc) = &self.bitcoind {
            url::Url::parse(&btc.rpc_url)
                .map_err(|e| ConfigError::new("bitcoind.rpc_url", format!("not a URL: {e}")))?;
        }
        self.validate_lightning()
    }

    fn validate_dashboard(&self) -> Result<(), ConfigError> {
        let d = &self.dashboard;
        let checks = [
            ("dashboard.session_hours", d.session_hours, 1, 24 * 90),
            ("dashboard.invite_hours", d.invite_hours, 1, 24 * 30),
            (
                "dashboard.login_window_secs",
                d.login_window_secs,
                1,
                86_400,
            ),
            (
                "dashboard.login_failures_per_account",
                d.login_failures_per_account,
                1,
                1000,
            ),
            (
                "dashboard.login_failures_per_address",
                d.login_failures_per_address,
                1,
                100_000,
            ),
        ];
        for (key, value, min, max) in checks {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::new(key, format!("must be {min} to {max}")));
            }
        }
        let s = &self.signup;
        for (key, value) in [
            ("signup.codes_per_plan_per_hour", s.codes_per_plan_per_hour),
            (
                "signup.signups_per_plan_per_hour",
                s.signups_per_plan_per_hour,
            ),
            ("signup.per_address_per_hour", s.per_address_per_hour),
        ] {
            if !(1..=100_000).contains(&value) {
                return Err(ConfigError::new(key, "must be 1 to 100000"));
            }
        }
        Ok(())
    }

    /// Cookies get `Secure` when the public URL is HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.app.base_url.starts_with("https://")
    }

    fn validate_lightning(&self) -> Result<(), ConfigError> {
        let ln = &self.lightning;
        if !(60..=31 * 24 * 3600).contains(&ln.invoice_expiry_secs) {
            return Err(ConfigError::new(
                "lightning.invoice_expiry_secs",
                "must be 60 seconds to 31 days",
            ));
        }
        if !(10..=600_000).contains(&ln.chain_poll_ms) {
            return Err(ConfigError::new(
                "lightning.chain_poll_ms",
                "must be 10 to 600000",
            ));
        }
        if !(1..=144).contains(&ln.minimum_depth) {
            return Err(ConfigError::new(
                "lightning.minimum_depth",
                "must be 1 to 144",
            ));
        }
        if ln
            .public_address
            .as_deref()
            .is_some_and(|a| !push_protocol::grant::valid_address(a))
        {
            return Err(ConfigError::new(
                "lightning.public_address",
                "must be host:port (a port 1 to 65535, at most 256 bytes)",
            ));
        }
        if self.has_role(Role::Node)
            && self.bitcoind.is_none()
            && self.app.network != Network::Sandbox
        {
            return Err(ConfigError::new(
                "bitcoind",
                "the node role needs a [bitcoind] section outside the sandbox",
            ));
        }
        Ok(())
    }

    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        let w = &self.webhooks;
        if !(1..=300).contains(&w.timeout_secs) {
            return Err(ConfigError::new(
                "webhooks.timeout_secs",
                "must be 1 to 300",
            ));
        }
        if !(1..=1000).contains(&w.concurrency) {
            return Err(ConfigError::new(
                "webhooks.concurrency",
                "must be 1 to 1000",
            ));
        }
        if !(10..=60_000).contains(&w.poll_interval_ms) {
            return Err(ConfigError::new(
                "webhooks.poll_interval_ms",
                "must be 10 to 60000",
            ));
        }
        if w.retry_schedule_secs.first() != Some(&0)
            || w.retry_schedule_secs.len() > 20
            || w.retry_schedule_secs.iter().any(|s| *s > 7 * 86_400)
        {
            return Err(ConfigError::new(
                "webhooks.retry_schedule_secs",
                "give 1 to 20 delays of at most 7 days each, the first 0 (the first attempt is immediate)",
            ));
        }
        Ok(())
    }

    pub fn database_url(&self) -> &str {
        self.database.url.expose_secret()
    }

    /// Whether webhook endpoints may point at internal addresses: as set, or
    /// by default only on the sandbox and regtest networks, so a production
    /// configuration that forgets the key keeps the SSRF guard on.
    pub fn webhooks_allow_private(&self) -> bool {
        self.webhooks.allow_private_addresses.unwrap_or(matches!(
            self.app.network,
            Network::Sandbox | Network::Regtest
        ))
    }

    pub fn nwc_allow_private_relays(&self) -> bool {
        self.nwc.allow_private_relays.unwrap_or(matches!(
            self.app.network,
            Network::Sandbox | Network::Regtest
        ))
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.app.roles.contains(&role)
    }
}

/// Turns figment's error into one line naming the key and where its value came from.
fn figment_error(err: figment::Error) -> ConfigError {
    let key = err.path.join(".");
    let source_hint = match &err.metadata {
        Some(meta) if meta.name.contains("environment") => {
            format!(
                " (from environment variable {ENV_PREFIX}{})",
                err.path.join("__").to_uppercase()
            )
        }
        Some(meta) => match &meta.source {
            Some(source) => format!(" (from {source})"),
            None => String::new(),
        },
        None => String::new(),
    };
    ConfigError {
        key: if key.is_empty() {
            "(root)".to_owned()
        } else {
            key
        },
        message: err.kind.to_string(),
        source_hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_defaults_are_valid() {
        let s = Settings::from_defaults_and("").unwrap();
        assert_eq!(s.http.port, 8080);
        assert_eq!(s.api.rate_limit_per_second, 100.0);
        assert_eq!(s.api.rate_limit_burst, 200);
        assert_eq!(s.app.network, Network::Sandbox);
        assert!(s.database_url().starts_with("sqlite:"));
        assert_eq!(
            s.app.roles,
            [Role::Web, Role::Scheduler, Role::Worker, Role::Node]
        );
        assert_eq!(s.webhooks.timeout_secs, 15);
        assert_eq!(
            s.webhooks.retry_schedule_secs,
            [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000]
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = Settings::from_defaults_and("[http]\nport = \"abc\"").unwrap_err();
        assert_eq!(err.key, "http.port");
        assert!(err.to_string().contains("http.port"), "{err}");
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let err = Settings::from_defaults_and("[http]\nprot = 1").unwrap_err();
        assert!(err.to_string().contains("prot"), "{err}");
    }

    #[test]
    fn semantic_checks_name_the_key() {
        for (toml, key) in [
            ("[database]\nurl = \"mysql://x\"", "database.url"),
            ("[scheduler]\ntick = \"every minute\"", "scheduler.tick"),
            ("[scheduler]\nbatch_size = 0", "scheduler.batch_size"),
            ("[scheduler]\nworkers = 0", "scheduler.workers"),
            ("[webhooks]\ntimeout_secs = 0", "webhooks.timeout_secs"),
            ("[webhooks]\nconcurrency = 0", "webhooks.concurrency"),
            (
                "[webhooks]\npoll_interval_ms = 1",
                "webhooks.poll_interval_ms",
            ),
            (
                "[webhooks]\nretry_schedule_secs = []",
                "webhooks.retry_schedule_secs",
            ),
            ("[app]\nbase_url = \"not a url\"", "app.base_url"),
            ("[app]\nroles = []", "app.roles"),
            (
                "[api]\nrate_limit_per_second = 0",
                "api.rate_limit_per_second",
            ),
            (
                "[api]\nrate_limit_per_second = -1.5",
                "api.rate_limit_per_second",
            ),
            ("[api]\nrate_limit_burst = 0", "api.rate_limit_burst"),
            (
                "[app]\nnetwork = \"mainnet\"\n[clock]\nmode = \"test\"",
                "clock.mode",
            ),
        ] {
            let err = Settings::from_defaults_and(toml).unwrap_err();
            assert_eq!(err.key, key, "{toml}: {err}");
        }
    }

    #[test]
    fn secrets_are_not_printed_by_debug() {
        let s = Settings::from_defaults_and(
            "[database]\nurl = \"postgres://u:hunter2@localhost/db\"\n\
             [smtp]\nhost = \"h\"\nport = 25\nsecurity = \"none\"\npassword = \"s3cret\"\nfrom = \"a@b.c\"",
        )
        .unwrap();
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("s3cret"),
            "{debug}"
        );
    }

    #[test]
    fn production_example_is_valid() {
        let example = include_str!("../config/production.example.toml");
        let s = Settings::from_defaults_and(example).unwrap();
        assert_eq!(s.app.network, Network::Mainnet);
        assert!(s.smtp.is_some() && s.bitcoind.is_some());
        assert!(!s.webhooks_allow_private());
    }

    #[test]
    fn internal_webhook_addresses_are_allowed_by_default_only_off_mainnet() {
        let sandbox = Settings::from_defaults_and("").unwrap();
        assert!(sandbox.webhooks_allow_private());
        let mainnet = Settings::from_defaults_and(
            "[app]\nnetwork = \"mainnet\"\n[bitcoind]\nrpc_url = \"http://127.0.0.1:8332\"\nrpc_user = \"u\"\nrpc_password = \"p\"",
        )
        .unwrap();
        assert!(!mainnet.webhooks_allow_private());
        let opted_in = Settings::from_defaults_and(
            "[app]\nnetwork = \"mainnet\"\n[bitcoind]\nrpc_url = \"http://127.0.0.1:8332\"\nrpc_user = \"u\"\nrpc_password = \"p\"\n[webhooks]\nallow_private_addresses = true",
        )
        .unwrap();
        assert!(opted_in.webhooks_allow_private());
    }
}
