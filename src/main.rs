//! The `pushbill` command line: parse, load configuration, hand over.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pushbill::app::Application;
use pushbill::auth::api_keys::Mode;
use pushbill::clock::{Clock, SystemClock};
use pushbill::config::{ClockMode, Role, Settings};
use pushbill::{bench, catalog, store, telemetry};
use tokio_util::sync::CancellationToken;

/// Subscription billing for merchants paid over Lightning.
///
/// Configuration comes from config/default.toml (built in), then
/// config/<PUSHBILL_ENV>.toml, then --config FILE, then environment
/// variables like PUSHBILL__HTTP__PORT=9000.
#[derive(Parser)]
#[command(name = "pushbill", version, about, long_about)]
struct Cli {
    /// A TOML file layered over the defaults (see config/production.example.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: applies pending migrations, then starts the HTTP server
    /// and the background roles until Ctrl-C.
    Serve {
        /// Roles to run in this process, comma separated (web, scheduler, worker, node).
        /// Defaults to `app.roles` from the configuration.
        #[arg(long, value_delimiter = ',')]
        roles: Option<Vec<Role>>,
    },
    /// Measure performance on a throwaway database (never the configured one).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Sandbox only: a demo merchant with two plans and simulated
    /// subscribers (real payer nodes, child processes) on the running
    /// `pushbill serve` of this folder, until Ctrl-C (docs/sandbox.md).
    Demo {
        /// How many subscribers (the first six are each of a kind).
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(1..=50))]
        subscribers: u16,
        /// The running service's URL; defaults to `app.base_url`.
        #[arg(long)]
        url: Option<String>,
    },
    /// Merchants: create one with its first API key.
    Merchant {
        #[command(subcommand)]
        action: MerchantAction,
    },
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// The deployment's Lightning node, through the running service's API
    /// (a node operator's API key: --api-key or PUSHBILL_API_KEY). Prints JSON.
    Node(NodeArgs),
    /// Run the regtest chain simulator: a bitcoind JSON-RPC stand-in that
    /// several processes can share, until Ctrl-C.
    /// Same as the `simnet` binary.
    Simnet(simnet::cli::SimnetArgs),
    /// The subscriber side: a Lightning node that takes push invoices and pays
    /// them inside the grants it gave merchants (docs/payer.md). Needs no database.
    /// Same as the `pushbill-payer` binary.
    Payer(payer::cli::PayerArgs),
}

#[derive(clap::Args)]
struct NodeArgs {
    /// The service's URL; defaults to the configured `http.host`/`http.port`.
    #[arg(long, global = true)]
    url: Option<String>,
    /// A node operator merchant's API key.
    #[arg(long, global = true, env = "PUSHBILL_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    #[command(subcommand)]
    action: NodeAction,
}

#[derive(Subcommand)]
enum NodeAction {
    /// Node id, listening address, network, chain tip, peer and channel counts.
    Info,
    /// Connected peers.
    Peers,
    /// Connect to a peer: <node_id>@<host:port>.
    Connect { peer: String },
    /// Disconnect a peer.
    Disconnect { node_id: String },
    /// Channels with their balances and inbound capacity.
    Channels,
    /// Open a channel funded from the chain backend's wallet (20,000 to 16,777,215 sat).
    Open {
        node_id: String,
        amount_sat: u64,
        /// host:port: connect to the peer first.
        #[arg(long)]
        address: Option<String>,
        /// Give the peer this much of the channel at opening, in msat.
        #[arg(long)]
        push_msat: Option<u64>,
    },
    /// Close a channel cooperatively, or --force (broadcast our commitment).
    Close {
        channel_id: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Seed N due subscriptions and time one billing run over them, beside
    /// the same rows written by set-based SQL on the same seed.
    Billing {
        #[arg(long, default_value_t = 10_000)]
        subscriptions: usize,
        /// Subscriptions per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u64,
        /// Billing loops run at once (each with its own connection).
        #[arg(long, default_value_t = 1)]
        workers: u32,
        /// Merchants the subscriptions are spread over. Invoice numbers are
        /// gapless per merchant, so one merchant's invoices are numbered one
        /// transaction at a time.
        #[arg(long, default_value_t = 1)]
        merchants: usize,
        /// Runs of each (engine and ceiling alternately, each on a fresh
        /// seed); the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Run on PostgreSQL: a server URL such as postgres://postgres@127.0.0.1:5432/postgres,
        /// on which a throwaway database is created and dropped. SQLite (a temp file) otherwise.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
    /// Issue N pending payment requests as BOLT11 with the node role's issuer,
    /// beside raw recoverable secp256k1 signing on one core.
    Issue {
        #[arg(long, default_value_t = 10_000)]
        requests: usize,
        /// Runs of each; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// As for `bench billing`: a PostgreSQL server URL, SQLite otherwise.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
    /// Push N invoices to subscriber nodes (payers) on loopback with the node
    /// role's push sender, beside `bench_ping` round trips to the same peers.
    Push {
        /// Subscriber nodes, each a payer with its own LDK node.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
        peers: u16,
        /// Pushes per run, spread over the peers in turn.
        #[arg(long, default_value_t = 5_000)]
        pushes: usize,
        /// Runs of each; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// As for `bench billing`: a PostgreSQL server URL, SQLite otherwise.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
    /// Load `GET /v1/customers/{id}` and `GET /healthz` of an in-process
    /// `serve` (web role) over keep-alive connections.
    Api {
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Seconds each run is timed (after a one-second warm-up).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Customers seeded and asked for in turn.
        #[arg(long, default_value_t = 1_000)]
        customers: usize,
        /// As for `bench billing`: a PostgreSQL server URL, SQLite otherwise.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
    /// Time every dashboard page of a merchant with N subscriptions (billed
    /// once) and `GET /healthz`, one request after another, against 50 ms.
    Pages {
        #[arg(long, default_value_t = 100_000)]
        subscriptions: usize,
        /// Seconds each page is asked for (after a short warm-up).
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
        /// As for `bench billing`: a PostgreSQL server URL, SQLite otherwise.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
    },
}

#[derive(Subcommand)]
enum MerchantAction {
    /// Create a merchant and its first API key; prints the key's secret once.
    Create {
        #[arg(long)]
        name: String,
        /// Starts every invoice number, e.g. ACME for ACME-000001 (A-Z, 0-9).
        #[arg(long)]
        invoice_prefix: String,
        /// Let this merchant drive the deployment's Lightning node (/v1/node,
        /// `pushbill node`). The node is shared by every merchant.
        #[arg(long)]
        node_operator: bool,
    },
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// List migrations and whether each is applied.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { roles } => {
                if let Some(roles) = roles {
                    settings.app.roles = roles;
                }
                serve(settings).await
            }
            Command::Migrate { action } => migrate(settings, action).await,
            Command::Simnet(args) => simnet::cli::run(args).await,
            Command::Payer(args) => payer::cli::run(args).await,
            Command::Node(args) => node(&settings, args).await,
            Command::Demo { subscribers, url } => demo(&settings, subscribers, url).await,
            Command::Merchant {
                action:
                    MerchantAction::Create {
                        name,
                        invoice_prefix,
                        node_operator,
                    },
            } => create_merchant(settings, &name, &invoice_prefix, node_operator).await,
            Command::Bench {
                what:
                    BenchWhat::Billing {
                        subscriptions,
                        batch,
                        workers,
                        merchants,
                        runs,
                        postgres,
                    },
            } => {
                let report = bench::billing::compare(
                    postgres.as_deref(),
                    subscriptions,
                    batch,
                    workers,
                    merchants,
                    runs,
                )
                .await?;
                println!("{report}");
                Ok(())
            }
            Command::Bench {
                what:
                    BenchWhat::Issue {
                        requests,
                        runs,
                        postgres,
                    },
            } => {
                let report = bench::issue::issue(requests, runs, postgres.as_deref()).await?;
                println!("{report}");
                Ok(())
            }
            Command::Bench {
                what:
                    BenchWhat::Push {
                        peers,
                        pushes,
                        runs,
                        postgres,
                    },
            } => {
                let options = bench::push::Options {
                    peers: usize::from(peers),
                    pushes,
                    runs,
                    postgres,
                    policy: pushbill::node::role::push_policy(&settings),
                    connections: settings.database.max_connections,
                };
                println!("{}", bench::push::push(&options).await?);
                Ok(())
            }
            Command::Bench {
                what:
                    BenchWhat::Api {
                        connections,
                        seconds,
                        runs,
                        customers,
                        postgres,
                    },
            } => {
                let load = bench::api::Load {
                    connections,
                    warmup: std::time::Duration::from_secs(1),
                    duration: std::time::Duration::from_secs_f64(seconds.max(0.1)),
                    runs,
                };
                bench_api(settings, load, customers, postgres).await
            }
            Command::Bench {
                what:
                    BenchWhat::Pages {
                        subscriptions,
                        seconds,
                        postgres,
                    },
            } => {
                let duration = std::time::Duration::from_secs_f64(seconds.max(0.1));
                bench_pages(settings, subscriptions, duration, postgres).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings)
        .await
        .context("start-up failed")?;
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("Ctrl-C: shutting down");
            on_signal.cancel();
        }
    });
    if app.port() != 0 {
        println!("{}", banner(&app));
    }
    app.run_until_stopped(shutdown).await?;
    Ok(())
}

async fn demo(settings: &Settings, subscribers: u16, url: Option<String>) -> anyhow::Result<()> {
    use std::io::Write;
    let url = url.unwrap_or_else(|| settings.app.base_url.clone());
    let kinds = pushbill::demo::cast(usize::from(subscribers));
    let mut out = std::io::stdout();
    let mut demo = pushbill::demo::start(settings, &url, &kinds, &mut out).await?;
    let url = url.trim_end_matches('/');
    writeln!(
        out,
        "Demo ready: {} subscribers of merchant {}.\n  \
         Dashboard  {url}/dashboard/login  email {}  password {}\n  \
         API key    {}  (shown once)\n  \
         Advance its test clock a month: curl -X POST {url}/v1/test_clock/advance -H \"Authorization: Bearer {}\" \
         -H 'Content-Type: application/json' -d '{{\"seconds\": 2678400}}'\n  \
         (or from the dashboard's Sandbox page). The payers keep running (and paying) until Ctrl-C.",
        demo.subscribers.len(),
        demo.merchant_id,
        demo.email,
        demo.password,
        demo.api_key,
        demo.api_key,
    )?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    demo.stop().await;
    Ok(())
}

/// What `serve` prints once it listens: where everything is, and how to
/// start in the sandbox.
fn banner(app: &Application) -> String {
    use pushbill::config::{ClockMode, Network};
    let settings = &app.context().settings;
    let http = format!("http://{}:{}", settings.http.host, app.port());
    let mut lines = vec![format!("pushbill listening on {http}")];
    if settings.app.network == Network::Sandbox {
        let clock = match settings.clock.mode {
            ClockMode::Test => "a test clock per merchant (POST /v1/test_clock/advance)",
            ClockMode::System => "wall-clock time",
        };
        let chain = if app.runs_simnet() {
            "the regtest chain simulator in this process"
        } else {
            "a regtest bitcoind"
        };
        lines.push(format!("  SANDBOX: play money on {chain}, {clock}"));
    }
    lines.push(format!(
        "  Dashboard  {http}/dashboard  (first time: sign up at {http}/dashboard/signup)"
    ));
    lines.push(format!(
        "  API        {http}/v1  (reference {http}/docs/api; a key: pushbill merchant create --name NAME --invoice-prefix ABC)"
    ));
    if let Some(node) = app.node_address() {
        lines.push(format!("  Node       {node}"));
        if app.runs_simnet() {
            let data = settings
                .lightning
                .simnet_data_dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let data = if data.is_relative() && !data.starts_with(".") {
                std::path::Path::new(".").join(data)
            } else {
                data.to_path_buf()
            };
            lines.push(format!(
                "  Payers     pushbill payer run --sandbox {} --open-channel-sat 500000  (docs/payer.md)",
                data.display()
            ));
            if let Some(relay) = app.sandbox_relay() {
                lines.push(format!(
                    "  Relay      {relay}  (wallet connections: pushbill payer nwc new, docs/nwc.md)"
                ));
            }
        }
    }
    lines.push("  Stop with Ctrl-C.".into());
    lines.join("\n")
}

async fn node(settings: &Settings, args: NodeArgs) -> anyhow::Result<()> {
    use pushbill::node_cli::{NodeClient, NodeCommand, default_url};
    let url = args
        .url
        .unwrap_or_else(|| default_url(&settings.http.host, settings.http.port));
    let client = NodeClient::new(&url, args.api_key.as_deref().unwrap_or_default())?;
    let command = match args.action {
        NodeAction::Info => NodeCommand::Info,
        NodeAction::Peers => NodeCommand::Peers,
        NodeAction::Connect { peer } => NodeCommand::Connect(peer),
        NodeAction::Disconnect { node_id } => NodeCommand::Disconnect(node_id),
        NodeAction::Channels => NodeCommand::Channels,
        NodeAction::Open {
            node_id,
            amount_sat,
            address,
            push_msat,
        } => NodeCommand::Open {
            node_id,
            amount_sat,
            address,
            push_msat,
        },
        NodeAction::Close { channel_id, force } => NodeCommand::Close { channel_id, force },
    };
    let answer = client.run(&command).await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

async fn migrate(settings: Settings, action: MigrateAction) -> anyhow::Result<()> {
    let db = store::connect(settings.database_url(), settings.database.max_connections).await?;
    match action {
        MigrateAction::Up => {
            store::migrate(&db).await?;
            println!("all migrations applied");
        }
        MigrateAction::Status => {
            for (name, applied) in store::migration_status(&db).await? {
                println!("{} {name}", if applied { "applied" } else { "pending" });
            }
        }
    }
    Ok(())
}

async fn create_merchant(
    settings: Settings,
    name: &str,
    invoice_prefix: &str,
    node_operator: bool,
) -> anyhow::Result<()> {
    let db = store::connect(settings.database_url(), settings.database.max_connections).await?;
    store::migrate(&db).await?;
    let now = match settings.clock.mode {
        ClockMode::System => SystemClock.now(),
        // The sandbox's clock, so the merchant is not created in its future.
        ClockMode::Test => {
            match store::sandbox_clock::load(&db, store::sandbox_clock::DEPLOYMENT).await? {
                Some(saved) => saved,
                None => settings.clock.start.unwrap_or_else(|| SystemClock.now()),
            }
        }
    };
    let mode = Mode::for_network(settings.app.network);
    let (merchant, key) = catalog::merchants::create_with_api_key(
        &db,
        now,
        name,
        invoice_prefix,
        mode,
        node_operator,
    )
    .await?;
    println!("merchant: {}", merchant.id);
    if merchant.node_operator {
        println!("node operator: yes (may drive the Lightning node)");
    }
    println!("api key:  {}", key.secret);
    println!("Keep the API key secret: it is shown only this once.");
    Ok(())
}

/// `bench api`: a `serve` of the web role alone, in this process, on a
/// throwaway database seeded with a merchant, its key and its customers;
/// its own settings otherwise (per-key rate limits lifted: the bench
/// measures the server, not the limiter).
async fn bench_api(
    settings: Settings,
    load: bench::api::Load,
    customers: usize,
    postgres: Option<String>,
) -> anyhow::Result<()> {
    let lab = bench::lab::ThrowawayDb::create(postgres.as_deref(), 2).await?;
    let outcome = async {
        let seed = bench::api::seed(&lab.db, settings.app.network, customers).await?;
        let web = BenchServer::start(settings, &lab.url).await?;
        let report = bench::api::measure(web.addr, lab.backend(), &seed, &load).await;
        web.stop().await;
        report
    }
    .await;
    lab.drop().await?;
    println!("{}", outcome?);
    Ok(())
}

/// `bench pages`: as `bench api`, with a dashboard merchant of
/// `subscriptions` subscriptions billed once, and its owner's session.
async fn bench_pages(
    settings: Settings,
    subscriptions: usize,
    duration: std::time::Duration,
    postgres: Option<String>,
) -> anyhow::Result<()> {
    let lab = bench::lab::ThrowawayDb::create(postgres.as_deref(), 2).await?;
    let outcome = async {
        let seed = bench::pages::seed(&lab.db, subscriptions).await?;
        println!("seeded: {}", seed.billing);
        let web = BenchServer::start(settings, &lab.url).await?;
        let report = bench::pages::measure(web.addr, lab.backend(), &seed, duration).await;
        web.stop().await;
        report
    }
    .await;
    lab.drop().await?;
    println!("{}", outcome?);
    Ok(())
}

/// A `serve` of the web role alone, in this process, on `database_url`.
struct BenchServer {
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl BenchServer {
    async fn start(mut settings: Settings, database_url: &str) -> anyhow::Result<Self> {
        settings.database.url = database_url.to_owned().into();
        settings.http.host = "127.0.0.1".into();
        settings.http.port = 0;
        settings.app.roles = vec![Role::Web];
        settings.api.rate_limit_per_second = 1e12;
        settings.api.rate_limit_burst = u32::MAX;
        let app = Application::build(settings).await?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], app.port()));
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Ok(Self {
            addr,
            shutdown,
            server,
        })
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
    }
}
