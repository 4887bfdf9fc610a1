//! `pushbill-payer ...` (also `pushbill payer ...`): run the subscriber's node, and manage its
//! allowances and held pushes (see [`crate::control`] for how a command
//! reaches a running payer).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::Payer;
use crate::control::{self, Command, Submitted};
use crate::state::{Allowance, Per, Status};
use ln_node::NodeConfig;
use ln_node::bitcoind::RpcAuth;
use ln_node::{NodeAddress, NodeId};

#[derive(Debug, clap::Args)]
pub struct PayerArgs {
    /// The payer's folder: its node (seed, channels), allowances and pushes.
    #[arg(long, global = true, default_value = "./data/payer")]
    pub data_dir: PathBuf,
    #[command(subcommand)]
    pub action: PayerAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum PayerAction {
    /// Run the payer's node until Ctrl-C: takes push invoices and pays them
    /// inside the allowances.
    Run(RunArgs),
    /// Allowances: which payee may push how much per window.
    Allowance {
        #[command(subcommand)]
        action: AllowanceAction,
    },
    /// Pushes held for approval (outside every allowance).
    Pending,
    /// Every push received, with what became of it.
    Payments,
    /// Pay a held push.
    Approve { push_id: String },
    /// Decline a held push.
    Reject { push_id: String },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Where peers connect.
    #[arg(long, default_value = "127.0.0.1:9736")]
    pub listen: SocketAddr,
    /// bitcoin, testnet, testnet4, signet or regtest.
    #[arg(long, default_value = "regtest")]
    pub network: bitcoin::Network,
    #[arg(long)]
    pub bitcoind_url: String,
    #[arg(long, default_value = "pushbill")]
    pub bitcoind_user: String,
    #[arg(long, env = "PUSHBILL_PAYER_BITCOIND_PASSWORD", hide_env_values = true)]
    pub bitcoind_password: String,
    /// Connect to this peer at start: <node_id>@<host:port> (e.g. the merchant).
    #[arg(long)]
    pub connect: Option<String>,
    /// With --connect: open a channel of this many sat to it if there is none.
    #[arg(long)]
    pub open_channel_sat: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
pub enum AllowanceAction {
    /// Allow a payee (the node id that signs its invoices) up to --max-msat
    /// per window; replaces the payee's previous allowance.
    Add {
        #[arg(long)]
        payee: String,
        #[arg(long)]
        max_msat: u64,
        #[arg(long, value_enum)]
        per: Per,
        /// RFC 3339 time after which the allowance ends.
        #[arg(long)]
        until: Option<DateTime<Utc>>,
    },
    Remove {
        #[arg(long)]
        payee: String,
    },
    List,
}

/// Runs one `pushbill payer` command; prints JSON or one line.
pub async fn run(args: PayerArgs) -> anyhow::Result<()> {
    let dir = args.data_dir;
    let submit = |command: Command| -> anyhow::Result<()> {
        match control::submit(&dir, &command, Utc::now())? {
            Submitted::Applied => println!("done"),
            Submitted::Queued => println!("sent to the running payer"),
        }
        Ok(())
    };
    match args.action {
        PayerAction::Run(run) => return run_node(dir, run).await,
        PayerAction::Allowance { action } => match action {
            AllowanceAction::Add {
                payee,
                max_msat,
                per,
                until,
            } => {
                let payee = NodeId::parse(&payee).context("--payee must be a node id")?;
                if max_msat == 0 {
                    bail!("--max-msat must be above 0");
                }
                submit(Command::AddAllowance(Allowance {
                    payee: payee.to_string(),
                    max_msat,
                    per,
                    until: until.map(|t| t.timestamp()),
                }))?;
            }
            AllowanceAction::Remove { payee } => submit(Command::RemoveAllowance { payee })?,
            AllowanceAction::List => {
                let state = crate::read_state(&dir)?;
                println!("{}", serde_json::to_string_pretty(&state.allowances)?);
            }
        },
        PayerAction::Pending | PayerAction::Payments => {
            let held_only = matches!(args.action, PayerAction::Pending);
            let state = crate::read_state(&dir)?;
            let list: Vec<_> = state
                .payments
                .iter()
                .filter(|(_, p)| !held_only || p.status == Status::PendingApproval)
                .map(|(hash, p)| serde_json::json!({"payment_hash": hash, "payment": p}))
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        PayerAction::Approve { push_id } => submit(Command::Approve { push_id })?,
        PayerAction::Reject { push_id } => submit(Command::Reject { push_id })?,
    }
    Ok(())
}

async fn run_node(dir: PathBuf, args: RunArgs) -> anyhow::Result<()> {
    let config = NodeConfig {
        data_dir: dir.join("node"),
        listen: args.listen,
        network: args.network,
        bitcoind: RpcAuth {
            url: args.bitcoind_url,
            user: args.bitcoind_user,
            password: args.bitcoind_password,
        },
        chain_poll_interval: Duration::from_secs(1),
        reconnect_interval: Duration::from_secs(5),
        minimum_depth: 3,
    };
    let payer = Payer::start(dir, config).await?;
    println!(
        "payer node {} listening on {}",
        payer.node().node_id(),
        payer.node().listen_addr()
    );
    if let Some(peer) = args.connect {
        let address = NodeAddress::parse(&peer).context("--connect <node_id>@<host:port>")?;
        let host_port = match address.host.contains(':') {
            true => format!("[{}]:{}", address.host, address.port),
            false => format!("{}:{}", address.host, address.port),
        };
        let addr = ln_node::operations::resolve_address("connect", &host_port)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let node_id = address.node_id.to_public_key();
        payer.node().connect_peer(node_id, addr).await?;
        if let Some(sat) = args.open_channel_sat
            && !payer
                .node()
                .list_channels()
                .iter()
                .any(|c| c.counterparty_node_id == node_id.to_string())
        {
            let id = payer.node().open_channel(node_id, sat, 0)?;
            println!("opening channel {id}");
        }
    }
    tokio::signal::ctrl_c().await?;
    payer.stop().await;
    Ok(())
}
