//! `simnet`: the regtest chain simulator on its own (see the crate docs).

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
async fn main() -> anyhow::Result<()> {
    // Info and above to stderr: stdout carries the RPC URL line.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    simnet::cli::run(Cli::parse().args).await
}
