//! `pushbill-payer ...` (also `pushbill payer ...`): run the subscriber's
//! node, subscribe, and manage grants and held pushes (see
//! [`crate::control`] for how a command reaches a running payer).
//! Listings are for people by default; `--json` gives them to scripts.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::control::{self, Command, Reply, short};
use crate::display::{msat, table, time};
use crate::sandbox::SandboxChain;
use crate::state::{BudgetWindow, Limits, NwcStatus, PayerState, Status, Window};
use crate::subscribe::{Acceptance, Outcome, Terms, TermsRequest};
use crate::{Payer, PayerOptions};
use ln_node::NodeAddress;
use ln_node::NodeConfig;
use ln_node::bitcoind::RpcAuth;

/// How long a command waits for the running payer's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `subscribe` waits for the merchant (through the payer).
const MERCHANT_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, clap::Args)]
pub struct PayerArgs {
    /// The payer's folder: its node (seed, channels), grants and pushes.
    #[arg(long, global = true, default_value = "./data/payer")]
    pub data_dir: PathBuf,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: PayerAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum PayerAction {
    /// Run the payer's node until Ctrl-C: takes push invoices, pays those
    /// inside a grant, holds the rest for approval.
    Run(RunArgs),
    /// Subscribe with a merchant's code: shows the terms, asks, and on yes
    /// gives the merchant a grant (needs the running payer).
    Subscribe(SubscribeArgs),
    /// Grants: what each merchant may charge per window.
    Grants {
        #[command(subcommand)]
        action: GrantsAction,
    },
    /// Pushes held for approval (outside every grant), newest first.
    Pending,
    /// Every push received (and every invoice paid by hand), newest first.
    Payments,
    /// Pay a held push: its id, the first 8 hex digits of it, or its invoice number.
    Approve { push: String },
    /// Decline a held push (named as for `approve`).
    Reject { push: String },
    /// Pay a BOLT11 invoice by hand (never one whose payment hash was seen).
    Pay { bolt11: String },
    /// The node (id, address, channels and balances) and the grants with
    /// what is spent and left in their current window.
    Status,
    /// Wallet connections (Nostr Wallet Connect, NIP-47): apps that may have
    /// invoices paid inside a budget.
    Nwc {
        #[command(subcommand)]
        action: NwcAction,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum NwcAction {
    /// Offer a new connection: prints its nostr+walletconnect:// URI once
    /// (it holds the connection's secret, which the payer does not keep).
    New(NwcNewArgs),
    /// The connections, newest first, with what is spent and left this window.
    List,
    /// Revoke a connection (its id): its requests are refused from now on.
    Revoke { id: String },
    /// Change a connection's budget.
    Budget {
        id: String,
        #[arg(long)]
        budget_sat: u64,
        #[arg(long, value_enum)]
        window: Option<BudgetWindow>,
    },
}

#[derive(Debug, clap::Args)]
pub struct NwcNewArgs {
    /// What may be paid per window, in sat.
    #[arg(long)]
    pub budget_sat: u64,
    /// When the budget starts afresh.
    #[arg(long, value_enum, default_value = "monthly")]
    pub window: BudgetWindow,
    /// A relay the app and the payer meet on (ws:// or wss://); repeat for more.
    #[arg(long = "relay", required_unless_present = "sandbox")]
    pub relays: Vec<String>,
    /// The data folder of a running sandbox (`pushbill serve`): use its relay.
    #[arg(long, value_name = "DIR")]
    pub sandbox: Option<PathBuf>,
    /// A name to recognise the connection by.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum GrantsAction {
    /// The grants, newest first, with what is spent and left this window.
    List,
    /// End a grant (its id or first 8 hex digits): nothing more is paid
    /// under it, and the merchant is told (until it acknowledges).
    Revoke { id: String },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Where peers connect.
    #[arg(long, default_value = "127.0.0.1:9736")]
    pub listen: SocketAddr,
    /// bitcoin, testnet, testnet4, signet or regtest.
    #[arg(long, default_value = "regtest")]
    pub network: bitcoin::Network,
    /// Join the chain of the sandbox `pushbill serve` running with this data
    /// folder (reads <DIR>/sandbox/chain.json) and connect to its node.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["bitcoind_url", "bitcoind_password"])]
    pub sandbox: Option<PathBuf>,
    #[arg(long, required_unless_present = "sandbox")]
    pub bitcoind_url: Option<String>,
    #[arg(long, default_value = "pushbill")]
    pub bitcoind_user: String,
    #[arg(long, env = "PUSHBILL_PAYER_BITCOIND_PASSWORD", hide_env_values = true)]
    pub bitcoind_password: Option<String>,
    /// Connect to this peer at start: <node_id>@<host:port> (e.g. the
    /// merchant; with --sandbox, the sandbox's node by default).
    #[arg(long)]
    pub connect: Option<String>,
    /// With --connect (or --sandbox): open a channel of this many sat to it
    /// if there is none, funded from the chain backend's wallet.
    #[arg(long)]
    pub open_channel_sat: Option<u64>,
    /// Held pushes taken from one peer per day; past it they are rejected
    /// (`request_limit`).
    #[arg(long, default_value_t = Limits::default().max_requests_per_peer_per_day)]
    pub max_requests_per_peer_per_day: u32,
    /// Stop when standard input closes as well as on Ctrl-C: a payer that
    /// another process started on a pipe (`pushbill demo`, the dashboard's
    /// demo button) ends with that process, even one killed outright.
    #[arg(long)]
    pub stop_with_stdin: bool,
}

#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    /// The merchant's subscribe code: <code>@<node id>@<host:port>.
    pub code: String,
    /// Your cap per window, in sat (default: the merchant's suggestion).
    #[arg(long)]
    pub cap_sat: Option<u64>,
    /// The window the cap counts in (default: the merchant's suggestion).
    #[arg(long, value_enum)]
    pub per: Option<Window>,
    /// No single invoice above this many sat is paid automatically.
    #[arg(long)]
    pub per_invoice_max_sat: Option<u64>,
    /// RFC 3339 time from which the grant pays nothing.
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
    /// A name for you to recognise the grant by.
    #[arg(long)]
    pub label: Option<String>,
    /// Where the merchant may send receipts.
    #[arg(long)]
    pub email: Option<String>,
    /// Do not ask: accept the terms.
    #[arg(long)]
    pub yes: bool,
}

/// Runs one `pushbill payer` command.
pub async fn run(args: PayerArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout();
    // Not `stdin().lock()`: held for the whole command, it would keep
    // `run --stop-with-stdin` from reading its input.
    let mut stdin = std::io::BufReader::new(std::io::stdin());
    run_with(args, &mut stdin, &mut out).await
}

/// [`run`] with its input (the subscribe question) and output given, so the
/// command line can be driven from a test.
pub async fn run_with(
    args: PayerArgs,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let dir = args.data_dir;
    let json = args.json;
    match args.action {
        PayerAction::Run(run) => run_node(dir, run, out).await,
        PayerAction::Subscribe(sub) => subscribe(&dir, sub, json, input, out).await,
        PayerAction::Grants { action } => match action {
            GrantsAction::List => {
                let state = crate::read_state(&dir)?;
                writeln!(out, "{}", grants(&state, state.time(Utc::now()), json))?;
                Ok(())
            }
            GrantsAction::Revoke { id } => say(out, &dir, Command::Revoke { grant: id }).await,
        },
        PayerAction::Pending | PayerAction::Payments => {
            let held_only = matches!(args.action, PayerAction::Pending);
            let state = crate::read_state(&dir)?;
            writeln!(out, "{}", payments(&state, held_only, Utc::now(), json))?;
            Ok(())
        }
        PayerAction::Approve { push } => say(out, &dir, Command::Approve { push_id: push }).await,
        PayerAction::Reject { push } => say(out, &dir, Command::Reject { push_id: push }).await,
        PayerAction::Pay { bolt11 } => say(out, &dir, Command::Pay { bolt11 }).await,
        PayerAction::Status => status(&dir, json, out).await,
        PayerAction::Nwc { action } => nwc(&dir, action, json, out).await,
    }
}

async fn nwc(dir: &Path, action: NwcAction, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let sat = |sat: u64| {
        sat.checked_mul(1000)
            .filter(|m| *m > 0)
            .context("--budget-sat must be above 0 (and not too large)")
    };
    match action {
        NwcAction::New(args) => {
            let mut relays = args.relays;
            if let Some(data) = &args.sandbox {
                let relay = crate::sandbox::SandboxChain::read(data)?
                    .nostr_relay
                    .context("this sandbox runs no nostr relay (restart `pushbill serve`)")?;
                relays.push(relay);
            }
            let spec = crate::NwcSpec {
                name: args.name,
                budget_msat: sat(args.budget_sat)?,
                window: args.window,
                relays,
            };
            let (command, uri) = crate::nwc::new_connection(&spec)?;
            let reply = control::run(dir, &command, Utc::now(), REPLY_TIMEOUT).await?;
            if !reply.ok {
                bail!("{}", reply.message);
            }
            let id = match &command {
                Command::NwcAdd(add) => add.id.clone(),
                _ => String::new(),
            };
            if json {
                writeln!(out, "{}", json!({"id": id, "uri": uri}))?;
            } else {
                eprintln!(
                    "{}. Give this URI to the app; it is shown once, and holds the connection's secret:",
                    reply.message
                );
                writeln!(out, "{uri}")?;
            }
            Ok(())
        }
        NwcAction::List => {
            let state = crate::read_state(dir)?;
            writeln!(out, "{}", nwc_list(&state, state.time(Utc::now()), json))?;
            Ok(())
        }
        NwcAction::Revoke { id } => say(out, dir, Command::NwcRevoke { id }).await,
        NwcAction::Budget {
            id,
            budget_sat,
            window,
        } => {
            let budget_msat = budget_sat
                .checked_mul(1000)
                .context("--budget-sat is too large")?;
            say(
                out,
                dir,
                Command::NwcBudget {
                    id,
                    budget_msat,
                    window,
                },
            )
            .await
        }
    }
}

/// The wallet connections, newest first (no secrets).
fn nwc_list(state: &PayerState, now: DateTime<Utc>, json: bool) -> String {
    let mut list: Vec<_> = state.nwc_connections.iter().collect();
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    if json {
        let rows: Vec<_> = list
            .iter()
            .map(|c| {
                let (spent, left) = state.nwc_spent_and_left(c, now);
                json!({
                    "id": c.id,
                    "name": c.name,
                    "wallet_pubkey": c.wallet_pubkey,
                    "client_pubkey": c.client_pubkey,
                    "relays": c.relays,
                    "budget_msat": c.budget_msat,
                    "window": c.window,
                    "status": c.status,
                    "created_at": c.created_at,
                    "revoked_at": c.revoked_at,
                    "spent_msat": spent,
                    "left_msat": left,
                })
            })
            .collect();
        return serde_json::to_string_pretty(&rows).unwrap_or_default();
    }
    if list.is_empty() {
        return "No wallet connections. `pushbill payer nwc new --budget-sat N --relay URL` makes one.".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let (spent, left) = state.nwc_spent_and_left(c, now);
            vec![
                c.id.clone(),
                c.name.clone().unwrap_or_default(),
                match c.status {
                    NwcStatus::Active => "active".into(),
                    NwcStatus::Revoked => "revoked".into(),
                },
                format!("{} {}", msat(c.budget_msat), c.window.name()),
                msat(spent),
                msat(left),
                c.relays.join(" "),
            ]
        })
        .collect();
    table(
        &["ID", "NAME", "STATUS", "BUDGET", "SPENT", "LEFT", "RELAYS"],
        &rows,
    )
}

/// Runs a command and prints its answer; a refusal is an error.
async fn say(out: &mut dyn Write, dir: &Path, command: Command) -> anyhow::Result<()> {
    let reply = control::run(dir, &command, Utc::now(), REPLY_TIMEOUT).await?;
    if !reply.ok {
        bail!("{}", reply.message);
    }
    writeln!(out, "{}", reply.message)?;
    Ok(())
}

/// Runs a command that needs the running payer and returns its answer's data.
async fn ask<T: serde::de::DeserializeOwned>(
    dir: &Path,
    command: Command,
    timeout: Duration,
) -> anyhow::Result<T> {
    let reply: Reply = control::run(dir, &command, Utc::now(), timeout).await?;
    if !reply.ok {
        bail!("{}", reply.message);
    }
    let data = reply.data.context("the payer's answer has no data")?;
    serde_json::from_value(data).context("reading the payer's answer")
}

async fn subscribe(
    dir: &Path,
    args: SubscribeArgs,
    json: bool,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if args.cap_sat == Some(0) {
        bail!("--cap-sat must be above 0");
    }
    let request = TermsRequest {
        code: args.code.trim().to_owned(),
    };
    let terms: Terms = ask(dir, Command::FetchTerms(request), MERCHANT_TIMEOUT).await?;
    let window = args.per.unwrap_or(terms.window);
    let cap_msat = match args.cap_sat {
        Some(sat) => sat.checked_mul(1000).context("--cap-sat is too large")?,
        None if terms.cap_msat > 0 => terms.cap_msat,
        None => bail!("the merchant suggests no cap: give --cap-sat and --per"),
    };
    let per_invoice_max_msat = args
        .per_invoice_max_sat
        .map(|sat| {
            sat.checked_mul(1000)
                .context("--per-invoice-max-sat is too large")
        })
        .transpose()?;
    if !json {
        writeln!(out, "{}", describe_terms(&terms))?;
        writeln!(
            out,
            "Your grant:   up to {} per {}{}{}",
            msat(cap_msat),
            window.name(),
            per_invoice_max_msat
                .map(|m| format!(", at most {} per invoice", msat(m)))
                .unwrap_or_default(),
            args.until
                .map(|t| format!(", until {}", time(t.timestamp())))
                .unwrap_or_default()
        )?;
    }
    if !args.yes {
        write!(out, "Subscribe? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            writeln!(out, "Not subscribed.")?;
            return Ok(());
        }
    }
    let acceptance = Acceptance {
        offer_id: terms.offer_id.clone(),
        cap_msat,
        window,
        per_invoice_max_msat,
        ends_at: args.until.map(|t| t.timestamp()),
        label: args.label,
        email: args.email,
    };
    let outcome: Outcome = ask(dir, Command::Accept(acceptance), MERCHANT_TIMEOUT).await?;
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"terms": terms, "result": outcome}))?
        )?;
    } else if outcome.active {
        writeln!(
            out,
            "Subscribed: grant {} is active{}{}.",
            short(&outcome.grant_id),
            outcome
                .subscription_id
                .as_deref()
                .map(|s| format!(", subscription {s}"))
                .unwrap_or_default(),
            outcome
                .customer_id
                .as_deref()
                .map(|c| format!(", customer {c}"))
                .unwrap_or_default()
        )?;
    } else {
        bail!(
            "the merchant refused: {}",
            outcome.message.as_deref().unwrap_or("no reason given")
        );
    }
    Ok(())
}

fn describe_terms(t: &Terms) -> String {
    let mut lines = vec![
        format!("Merchant:     {} ({})", t.merchant_name, t.merchant_id),
        format!("Node:         {}@{}", t.merchant_node, t.merchant_address),
        format!("Plan:         {}", t.description),
    ];
    if t.amount_msat > 0 {
        lines.push(format!(
            "Amount:       {} every {}",
            msat(t.amount_msat),
            t.interval
        ));
    }
    if t.trial_days > 0 {
        lines.push(format!("Trial:        {} days", t.trial_days));
    }
    lines.push(format!("Due now:      {}", msat(t.due_now_msat)));
    lines.push(format!(
        "Suggested:    a cap of {} per {}",
        msat(t.cap_msat),
        t.window.name()
    ));
    lines.join("\n")
}

/// The grants, newest first, with what is spent and left this window.
fn grants(state: &PayerState, now: DateTime<Utc>, json: bool) -> String {
    let mut list: Vec<_> = state.grants.iter().collect();
    list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    if json {
        let rows: Vec<_> = list
            .iter()
            .map(|g| {
                let (spent, left) = state.spent_and_left(g, now);
                let mut v = serde_json::to_value(g).unwrap_or_default();
                v["spent_msat"] = json!(spent);
                v["left_msat"] = json!(left);
                v["live"] = json!(g.is_live(now));
                v
            })
            .collect();
        return serde_json::to_string_pretty(&rows).unwrap_or_default();
    }
    if list.is_empty() {
        return "No grants. `pushbill payer subscribe CODE` gives a merchant one.".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|g| {
            let (spent, left) = state.spent_and_left(g, now);
            let status = match (g.is_live(now), g.status) {
                (false, crate::state::GrantStatus::Active) => "ended (time)".to_owned(),
                (_, s) => serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
            };
            vec![
                short(&g.id).to_owned(),
                g.merchant_name.clone(),
                g.label
                    .clone()
                    .or_else(|| g.description.clone())
                    .unwrap_or_default(),
                status,
                format!("{} / {}", msat(g.cap_msat), g.window.name()),
                msat(spent),
                msat(left),
                g.ends_at.map(time).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        &[
            "ID", "MERCHANT", "LABEL", "STATUS", "CAP", "SPENT", "LEFT", "ENDS",
        ],
        &rows,
    )
}

/// Payments newest first; only those waiting for approval (and not
/// expired) when `held_only`.
fn payments(state: &PayerState, held_only: bool, now: DateTime<Utc>, json: bool) -> String {
    let mut list: Vec<_> = state
        .payments
        .iter()
        .filter(|(_, p)| {
            !held_only
                || (p.status == Status::PendingApproval
                    && p.expires_at.is_none_or(|t| t > now.timestamp()))
        })
        .collect();
    // Newest first; at one time, the later-issued (later-expiring) first.
    list.sort_by(|(ha, a), (hb, b)| {
        (b.received_at, b.expires_at)
            .cmp(&(a.received_at, a.expires_at))
            .then(hb.cmp(ha))
    });
    if json {
        let rows: Vec<_> = list
            .iter()
            .map(|(hash, p)| {
                let mut v = serde_json::to_value(p).unwrap_or_default();
                if let Some(fields) = v.as_object_mut() {
                    // Kept to answer a repeated NIP-47 request; not shown.
                    fields.remove("preimage");
                }
                v["payment_hash"] = json!(hash);
                v
            })
            .collect();
        return serde_json::to_string_pretty(&rows).unwrap_or_default();
    }
    if list.is_empty() {
        return match held_only {
            true => "Nothing waits for approval.".into(),
            false => "No payments yet.".into(),
        };
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|(hash, p)| {
            let id = match p.push_id.is_empty() {
                true => short(hash).to_owned(),
                false => short(&p.push_id).to_owned(),
            };
            let what = [p.merchant_name.as_str(), p.invoice_number.as_str()]
                .iter()
                .filter(|s| !s.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            let mut row = vec![
                id,
                time(p.received_at),
                if what.is_empty() { "-".into() } else { what },
                p.plan_name.clone().unwrap_or_default(),
                msat(p.amount_msat),
            ];
            if held_only {
                row.push(p.expires_at.map(time).unwrap_or_else(|| "-".into()));
            } else {
                row.push(p.status.name().to_owned());
            }
            row.push(p.reason.clone().unwrap_or_default());
            row
        })
        .collect();
    let last = if held_only { "EXPIRES" } else { "STATUS" };
    table(
        &["ID", "RECEIVED", "FROM", "FOR", "AMOUNT", last, "NOTE"],
        &rows,
    )
}

async fn status(dir: &Path, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let node = match dir_lock::lock(dir)? {
        Some(_free) => None,
        None => Some(ask::<serde_json::Value>(dir, Command::Status, REPLY_TIMEOUT).await?),
    };
    let state = crate::read_state(dir)?;
    let now = state.time(Utc::now());
    if json {
        let grants: serde_json::Value =
            serde_json::from_str(&grants(&state, now, true)).unwrap_or_default();
        let waiting = state
            .payments
            .values()
            .filter(|p| p.status == Status::PendingApproval)
            .count();
        let status =
            json!({"running": node.is_some(), "node": node, "grants": grants, "pending": waiting});
        writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
        return Ok(());
    }
    match &node {
        None => writeln!(out, "The payer is not running (`pushbill payer run`).")?,
        Some(n) => {
            let text = |k: &str| n[k].as_str().unwrap_or("-").to_owned();
            writeln!(out, "Node:      {}", text("node_id"))?;
            writeln!(out, "Listening: {}", text("listen"))?;
            writeln!(out, "Network:   {}", text("network"))?;
            let channels = n["channels"].as_array().cloned().unwrap_or_default();
            if channels.is_empty() {
                writeln!(out, "Channels:  none")?;
            } else {
                let rows: Vec<Vec<String>> = channels
                    .iter()
                    .map(|c| {
                        let m = |k: &str| c[k].as_u64().unwrap_or(0);
                        vec![
                            short(c["channel_id"].as_str().unwrap_or("")).to_owned(),
                            short(c["peer"].as_str().unwrap_or("")).to_owned(),
                            c["state"].as_str().unwrap_or("").to_owned(),
                            msat(m("capacity_sat") * 1000),
                            msat(m("outbound_msat")),
                            msat(m("inbound_msat")),
                        ]
                    })
                    .collect();
                writeln!(out, "Channels:")?;
                writeln!(
                    out,
                    "{}",
                    table(
                        &[
                            "CHANNEL",
                            "PEER",
                            "STATE",
                            "CAPACITY",
                            "CAN SEND",
                            "CAN RECEIVE"
                        ],
                        &rows
                    )
                )?;
            }
        }
    }
    writeln!(out, "Grants:")?;
    writeln!(out, "{}", grants(&state, now, false))?;
    let waiting = state
        .payments
        .values()
        .filter(|p| p.status == Status::PendingApproval)
        .count();
    writeln!(
        out,
        "Waiting for approval: {waiting} (`pushbill payer pending`)"
    )?;
    Ok(())
}

async fn run_node(dir: PathBuf, args: RunArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (bitcoind, connect, sandbox_node) = match &args.sandbox {
        Some(data) => {
            let chain = SandboxChain::read(data)?;
            let connect = args.connect.clone().or(chain.merchant_node.clone());
            let node = chain
                .merchant_node
                .as_deref()
                .and_then(|n| n.split('@').next())
                .map(str::to_owned);
            (
                RpcAuth {
                    url: chain.url,
                    user: chain.user,
                    password: chain.password,
                },
                connect,
                node,
            )
        }
        None => (
            RpcAuth {
                url: args.bitcoind_url.clone().context("--bitcoind-url")?,
                user: args.bitcoind_user.clone(),
                password: args
                    .bitcoind_password
                    .clone()
                    .context("--bitcoind-password (or PUSHBILL_PAYER_BITCOIND_PASSWORD)")?,
            },
            args.connect.clone(),
            None,
        ),
    };
    let config = NodeConfig {
        data_dir: dir.join("node"),
        listen: args.listen,
        network: args.network,
        bitcoind,
        chain_poll_interval: Duration::from_secs(1),
        reconnect_interval: Duration::from_secs(5),
        minimum_depth: 3,
    };
    let options = PayerOptions {
        limits: Limits {
            max_requests_per_peer_per_day: args.max_requests_per_peer_per_day,
        },
        now: Arc::new(Utc::now),
        sandbox_node,
        nwc_relay_retry: None,
    };
    let payer = Payer::start_with(dir, config, options).await?;
    writeln!(
        out,
        "payer node {} listening on {}",
        payer.node().node_id(),
        payer.node().listen_addr()
    )?;
    if let Some(peer) = connect {
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
        writeln!(out, "connected to {peer}")?;
        if let Some(sat) = args.open_channel_sat
            && !payer
                .node()
                .list_channels()
                .iter()
                .any(|c| c.counterparty_node_id == node_id.to_string())
        {
            // The id open_channel returns is the temporary one; `status`
            // shows the channel under its funded id.
            payer.node().open_channel(node_id, sat, 0)?;
            writeln!(
                out,
                "opening a channel of {} to {} (usable after 3 blocks; `payer status` shows it)",
                msat(sat * 1000),
                short(&node_id.to_string())
            )?;
        }
    }
    out.flush()?;
    if args.stop_with_stdin {
        tokio::select! {
            signal = tokio::signal::ctrl_c() => signal?,
            () = stdin_closed() => {}
        }
    } else {
        tokio::signal::ctrl_c().await?;
    }
    payer.stop().await;
    Ok(())
}

/// Resolves once standard input is at its end (or cannot be read). The
/// read blocks a thread of its own, not the runtime's blocking pool, so
/// that it never holds up the runtime's shutdown.
async fn stdin_closed() {
    let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed.send(());
    });
    let _ = on_close.await;
}
