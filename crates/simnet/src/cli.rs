//! The simulator's command line, shared by the `simnet` binary and
//! `pushbill simnet`: run until Ctrl-C.

use std::path::PathBuf;

use crate::{Simnet, SimnetConfig, parse_interval};

/// Run the regtest chain simulator: a bitcoind JSON-RPC stand-in that
/// several processes can share, until Ctrl-C.
#[derive(clap::Args, Debug)]
pub struct SimnetArgs {
    #[arg(long, default_value = "127.0.0.1:18443")]
    pub listen: std::net::SocketAddr,
    #[arg(long, default_value = "pushbill")]
    pub rpc_user: String,
    #[arg(
        long,
        env = "PUSHBILL_SIMNET_RPC_PASSWORD",
        default_value = "pushbill",
        hide_env_values = true
    )]
    pub rpc_password: String,
    /// Mine a block this often (10s, 500ms, 2m or seconds); on demand only if absent.
    #[arg(long, value_parser = parse_interval)]
    pub block_interval: Option<std::time::Duration>,
    /// Where the chain is kept across restarts.
    #[arg(long, default_value = "./data/simnet")]
    pub data_dir: PathBuf,
    /// Keep the chain in memory only (a new chain every start).
    #[arg(long)]
    pub in_memory: bool,
}

/// Starts the simulator, prints its RPC URL, and serves until Ctrl-C.
pub async fn run(args: SimnetArgs) -> anyhow::Result<()> {
    let simnet = Simnet::start(SimnetConfig {
        listen: args.listen,
        rpc_user: args.rpc_user,
        rpc_password: args.rpc_password.into(),
        block_interval: args.block_interval,
        data_dir: (!args.in_memory).then_some(args.data_dir),
    })
    .await?;
    println!("simnet RPC listening on {}", simnet.rpc_url());
    tokio::signal::ctrl_c().await?;
    simnet.shutdown().await;
    Ok(())
}
