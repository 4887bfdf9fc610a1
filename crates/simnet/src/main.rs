//! `simnet`: the regtest chain simulator on its own (see the crate docs).

use std::process::ExitCode;

use clap::Parser;
use simnet::cli::SimnetArgs;

#[derive(Parser)]
#[command(
    name = "simnet",
    version,
    about = "A regtest chain simulator serving bitcoind's JSON-RPC subset on loopback."
)]
struct Cli {
    #[command(flatten)]
    args: SimnetArgs,
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
    match simnet::cli::run(Cli::parse().args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
