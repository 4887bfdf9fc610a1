//! `pushbill-payer`: the subscriber's node (see the crate docs).

use std::process::ExitCode;

use clap::Parser;
use payer::cli::PayerArgs;

#[derive(Parser)]
#[command(
    name = "pushbill-payer",
    version,
    about = "The subscriber side of push invoices: a Lightning node that pays pushed invoices inside allowances."
)]
struct Cli {
    #[command(flatten)]
    args: PayerArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match payer::cli::run(Cli::parse().args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
