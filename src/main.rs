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
    /// Database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
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
