//! The `pushbill` command line: parse, load configuration, hand over.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pushbill::app::Application;
use pushbill::config::{Role, Settings};
use pushbill::{store, telemetry};
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
        /// Roles to run in this process, comma separated (web, scheduler).
        /// Defaults to `app.roles` from the configuration.
        #[arg(long, value_delimiter = ',')]
        roles: Option<Vec<Role>>,
    },
    /// Measure performance on a throwaway database (never the configured one).
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// Seed N due subscriptions and time one billing run over them.
    Billing {
        #[arg(long, default_value_t = 10_000)]
        subscriptions: usize,
        /// Subscriptions per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u64,
        /// Run on PostgreSQL: a server URL such as postgres://postgres@127.0.0.1:5432/postgres,
        /// on which a throwaway database is created and dropped. SQLite (a temp file) otherwise.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
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
            Command::Bench {
                what:
                    BenchWhat::Billing {
                        subscriptions,
                        batch,
                        postgres,
                    },
            } => bench_billing(subscriptions, batch, postgres).await,
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
        println!(
            "pushbill listening on http://{}:{}",
            app.state().settings.http.host,
            app.port()
        );
    }
    app.run_until_stopped(shutdown).await?;
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

async fn bench_billing(n: usize, batch: u64, postgres: Option<String>) -> anyhow::Result<()> {
    let name = format!(
        "pushbill_bench_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let sqlite_path = std::env::temp_dir().join(format!("{name}.db"));
    let url = match &postgres {
        Some(admin) => store::create_postgres_database(admin, &name).await?,
        None => format!("sqlite://{}", sqlite_path.display()),
    };
    let db = store::connect(&url, 8).await?;
    store::migrate(&db).await?;
    let report = pushbill::bench::billing(&db, n, batch).await;
    db.close().await?;
    match &postgres {
        Some(admin) => store::drop_postgres_database(admin, &name).await?,
        None => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", sqlite_path.display()));
            }
        }
    }
    println!("{}", report?);
    Ok(())
}
