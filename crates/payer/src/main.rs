//! `pushbill-payer`: the subscriber's node (see the crate docs).

use clap::Parser;
use payer::cli::PayerArgs;

#[derive(Parser)]
#[command(
    name = "pushbill-payer",
    version,
    about = "The subscriber side of push invoices: a Lightning node that pays pushed invoices inside the grants it gave merchants."
)]
struct Cli {
    #[command(flatten)]
    args: PayerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env();
    tracing_subscriber::fmt()
        .with_env_filter(filter.unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    payer::cli::run(Cli::parse().args).await
}
