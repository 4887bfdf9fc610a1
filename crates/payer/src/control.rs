//! How `pushbill payer` commands reach the payer's state.
//!
//! The running payer holds `<data_dir>/lock`. A command run while it runs is
//! dropped into `<data_dir>/inbox/<ulid>.json` (written atomically); the
//! running payer applies it within a fraction of a second and answers in
//! `<data_dir>/inbox/<ulid>.reply.json`, which the command waits for (with a
//! timeout) and removes. When no payer runs, a command that only changes the
//! state takes the lock and applies itself to `state.json`. Reading commands
//! (`pending`, `grants list`, `status`) read `state.json`, which is always whole.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::{
    BudgetWindow, EndedBy, GrantStatus, NwcStatus, PayerState, Payment, Status, write_atomically,
};

/// A change to the payer's state (or, for a running payer, an action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Pay a push held for approval. `push_id` is the push id, its first 8+
    /// hex digits, or the invoice number.
    Approve { push_id: String },
    /// Decline a push held for approval (`push_id` as for `approve`).
    Reject { push_id: String },
    /// Pay a BOLT11 by hand (never a payment hash seen before).
    Pay { bolt11: String },
    /// End a grant from the subscriber's side (`grant`: its id or first 8+ hex).
    Revoke { grant: String },
    /// Ask the merchant of a subscribe code for its terms (running payer only).
    FetchTerms(crate::subscribe::TermsRequest),
    /// Accept terms fetched before: save the grant, tell the merchant, wait
    /// for its answer (running payer only).
    Accept(crate::subscribe::Acceptance),
    /// The node's id, address and channels (running payer only).
    Status,
    /// Add a wallet connection (NIP-47).
    NwcAdd(crate::nwc::NwcAdd),
    /// Revoke a wallet connection (its id or first 8+ characters).
    NwcRevoke { id: String },
    /// Change a wallet connection's budget (and window).
    NwcBudget {
        id: String,
        budget_msat: u64,
        #[serde(default)]
        window: Option<BudgetWindow>,
    },
}

impl Command {
    /// Commands that talk to a merchant need the running payer's node.
    pub fn needs_node(&self) -> bool {
        matches!(
            self,
            Command::FetchTerms(_) | Command::Accept(_) | Command::Status
        )
    }
}

/// What the payer answered to a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub ok: bool,
    /// One line for people.
    pub message: String,
    /// Details for the command (e.g. the terms).
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

impl Reply {
    pub fn ok(message: impl Into<String>) -> Self {
        Self {
            ok: true,
            message: message.into(),
            data: None,
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            ok: false,
            message: message.into(),
            data: None,
        }
    }
}

/// Where a command went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Applied to `state.json` (no payer was running).
    Applied(String),
    /// Queued for the running payer, as inbox file `<ulid>.json`.
    Queued(String),
}

/// Runs `command` against the payer in `data_dir`, running or not.
pub fn submit(data_dir: &Path, command: &Command, now: DateTime<Utc>) -> anyhow::Result<Submitted> {
    match dir_lock::lock(data_dir)? {
        Some(_lock) => {
            if command.needs_node() {
                bail!(
                    "no payer runs on {}: start it first (`pushbill payer run`)",
                    data_dir.display()
                );
            }
            let mut state = PayerState::load(data_dir)?;
            let message = apply(&mut state, command, now)?;
            state.save(data_dir)?;
            Ok(Submitted::Applied(message))
        }
        None => {
            let id = ulid::Ulid::new().to_string();
            let path = inbox(data_dir).join(format!("{id}.json"));
            write_atomically(&path, &serde_json::to_vec(command)?)?;
            Ok(Submitted::Queued(id))
        }
    }
}

/// Waits up to `timeout` for the running payer's reply to queued command
/// `id`, and removes the reply file.
pub async fn wait_reply(data_dir: &Path, id: &str, timeout: Duration) -> anyhow::Result<Reply> {
    let path = reply_path(data_dir, id);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(bytes) = std::fs::read(&path) {
            let reply = serde_json::from_slice(&bytes).context("reading the payer's reply")?;
            let _ = std::fs::remove_file(&path);
            return Ok(reply);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "the running payer did not answer within {}s (it still applies the command when it can)",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits `command` and, when a payer runs, waits for its reply: the
/// outcome as one [`Reply`] either way.
pub async fn run(
    data_dir: &Path,
    command: &Command,
    now: DateTime<Utc>,
    timeout: Duration,
) -> anyhow::Result<Reply> {
    match submit(data_dir, command, now)? {
        Submitted::Applied(message) => Ok(Reply::ok(message)),
        Submitted::Queued(id) => wait_reply(data_dir, &id, timeout).await,
    }
}

pub fn inbox(data_dir: &Path) -> PathBuf {
    data_dir.join("inbox")
}

fn reply_path(data_dir: &Path, id: &str) -> PathBuf {
    inbox(data_dir).join(format!("{id}.reply.json"))
}

/// A command waiting in the inbox. Its file stays there until [`Queued::done`]
/// (call it once the command's effect is saved), so a crash in between
/// replays the command at the next start: every state command is idempotent
/// (a replay changes nothing, or is refused without changing anything).
#[derive(Debug)]
pub struct Queued {
    pub id: String,
    pub command: Command,
    file: PathBuf,
}

impl Queued {
    /// The command is applied and saved (or refused): its answer is written
    /// for the waiting command, and its file goes.
    pub fn done(self, reply: &Reply) {
        let dir = self.file.parent().map(Path::to_owned).unwrap_or_default();
        let answer = dir.join(format!("{}.reply.json", self.id));
        match serde_json::to_vec(reply) {
            Ok(bytes) => {
                if let Err(e) = write_atomically(&answer, &bytes) {
                    tracing::warn!(error = %e, "cannot write a payer command's reply");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot encode a payer command's reply"),
        }
        if let Err(e) = std::fs::remove_file(&self.file) {
            tracing::warn!(file = %self.file.display(), error = %e, "cannot remove a payer command");
        }
    }
}

/// The queued commands, oldest first (file names are ULIDs), left in the
/// inbox. A file that is not a command is set aside as `*.unreadable`.
pub fn queued(data_dir: &Path) -> Vec<Queued> {
    let Ok(entries) = std::fs::read_dir(inbox(data_dir)) else {
        return Vec::new();
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let id = name.strip_suffix(".json")?;
            (!id.contains('.')).then(|| (id.to_owned(), p.clone()))
        })
        .collect();
    files.sort();
    let mut commands = Vec::new();
    for (id, file) in files {
        match std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Command>(&b).ok())
        {
            Some(command) => commands.push(Queued { id, command, file }),
            None => {
                tracing::warn!(file = %file.display(), "unreadable payer command set aside");
                let _ = std::fs::rename(&file, file.with_extension("unreadable"));
            }
        }
    }
    commands
}

/// Applies a state command; the message says what it did. Approving marks
/// the payment `approved`: the running payer pays it next (or at its next
/// start); so does `pay`. Commands that need the node are refused here.
pub fn apply(
    state: &mut PayerState,
    command: &Command,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    match command {
        // Approving or rejecting again is refused without a change.
        Command::Approve { push_id } | Command::Reject { push_id } => {
            let hash = state.find_payment(push_id)?;
            let payment = state.payments.get_mut(&hash).expect("found");
            if payment.status != Status::PendingApproval {
                bail!(
                    "push {} is {}, not waiting for approval",
                    short(&payment.push_id),
                    payment.status.name()
                );
            }
            let approve = matches!(command, Command::Approve { .. });
            payment.status = if approve {
                Status::Approved
            } else {
                Status::Rejected
            };
            payment.reason = (!approve).then(|| "declined".into());
            Ok(format!(
                "{} push {} ({} {})",
                if approve { "approved" } else { "declined" },
                short(&payment.push_id),
                payment.merchant_name,
                payment.invoice_number
            ))
        }
        Command::Pay { bolt11 } => {
            let invoice = lightning_invoice::Bolt11Invoice::from_str(bolt11.trim())
                .map_err(|e| anyhow::anyhow!("not a BOLT11 invoice: {e}"))?;
            let Some(amount_msat) = invoice.amount_milli_satoshis().filter(|a| *a > 0) else {
                bail!("the invoice names no amount; pay only invoices that say what they ask");
            };
            if ln_node::push::is_expired(&invoice) {
                bail!("the invoice has expired");
            }
            let hash = hex::encode(invoice.payment_hash());
            if let Some(known) = state.payments.get(&hash) {
                bail!(
                    "this invoice's payment hash is known already ({}): it is never paid twice",
                    known.status.name()
                );
            }
            let description = match invoice.description() {
                lightning_invoice::Bolt11InvoiceDescriptionRef::Direct(d) => d.to_string(),
                lightning_invoice::Bolt11InvoiceDescriptionRef::Hash(_) => String::new(),
            };
            state.record(
                hash,
                Payment {
                    push_id: String::new(),
                    payee: invoice.get_payee_pub_key().to_string(),
                    peer: String::new(),
                    amount_msat,
                    bolt11: bolt11.trim().to_owned(),
                    merchant_name: String::new(),
                    invoice_number: String::new(),
                    plan_name: (!description.is_empty()).then_some(description),
                    status: Status::Approved,
                    grant_id: None,
                    window_start: None,
                    received_at: now.timestamp(),
                    expires_at: invoice.expires_at().map(|d| d.as_secs() as i64),
                    held: false,
                    reason: Some("paid by hand".into()),
                    nwc_id: None,
                    preimage: None,
                },
            );
            Ok(format!("paying {}", crate::display::msat(amount_msat)))
        }
        Command::Revoke { grant } => {
            let id = state.find_grant(grant)?;
            let grant = state.grant_mut(&id).expect("found");
            if grant.status == GrantStatus::Ended {
                bail!("grant {} has ended already", short(&grant.id));
            }
            grant.status = GrantStatus::Ended;
            grant.ended_by = Some(EndedBy::Subscriber);
            grant.ends_at = Some(
                grant
                    .ends_at
                    .map_or(now.timestamp(), |t| t.min(now.timestamp())),
            );
            grant.end_notice_pending = true;
            Ok(format!(
                "grant {} ({}) ended; the merchant is told when the payer reaches it",
                short(&grant.id),
                grant.merchant_name
            ))
        }
        // Adding again (a replay) changes nothing.
        Command::NwcAdd(add) => {
            let connection = add.connection(now)?;
            if let Some(known) = state.nwc(&add.id) {
                if known.wallet_pubkey == connection.wallet_pubkey {
                    return Ok(format!("wallet connection {} added already", add.id));
                }
                bail!("a wallet connection {} exists already", add.id);
            }
            state.nwc_connections.push(connection);
            Ok(format!("wallet connection {} added", add.id))
        }
        Command::NwcRevoke { id } => {
            let id = state.find_nwc(id)?;
            let c = state.nwc_mut(&id).expect("found");
            if c.status == NwcStatus::Revoked {
                bail!("wallet connection {id} is revoked already");
            }
            c.status = NwcStatus::Revoked;
            c.revoked_at = Some(now.timestamp());
            Ok(format!(
                "wallet connection {id} revoked: it pays nothing more"
            ))
        }
        Command::NwcBudget {
            id,
            budget_msat,
            window,
        } => {
            let id = state.find_nwc(id)?;
            let c = state.nwc_mut(&id).expect("found");
            c.budget_msat = *budget_msat;
            if let Some(w) = window {
                c.window = *w;
            }
            Ok(format!(
                "wallet connection {id}: up to {} {}",
                crate::display::msat(c.budget_msat),
                c.window.name()
            ))
        }
        Command::FetchTerms(_) | Command::Accept(_) | Command::Status => {
            bail!("this command needs the running payer")
        }
    }
}

/// The first 8 characters of an id, as the listings show it.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Grant, Window};

    fn held(push_id: &str) -> Payment {
        Payment {
            push_id: push_id.into(),
            payee: "02aa".into(),
            peer: "02aa".into(),
            amount_msat: 1,
            bolt11: String::new(),
            merchant_name: String::new(),
            invoice_number: String::new(),
            plan_name: None,
            status: Status::PendingApproval,
            grant_id: None,
            window_start: None,
            received_at: 0,
            expires_at: None,
            held: true,
            reason: None,
            nwc_id: None,
            preimage: None,
        }
    }

    fn grant(id: &str) -> Grant {
        Grant {
            id: id.into(),
            payee: "02aa".into(),
            merchant_id: "mer_1".into(),
            merchant_name: "Shop".into(),
            subscription_id: None,
            customer_id: None,
            description: None,
            label: None,
            cap_msat: 1_000,
            window: Window::Month,
            per_invoice_max_msat: None,
            ends_at: None,
            status: GrantStatus::Active,
            ended_by: None,
            end_notice_pending: false,
            created_at: 0,
            offer_id: None,
            merchant_address: None,
            email: None,
        }
    }

    fn revoke() -> Command {
        Command::Revoke {
            grant: "0123456789abcdef0123456789abcdef".into(),
        }
    }

    #[tokio::test]
    async fn commands_apply_directly_when_no_payer_runs_and_queue_when_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = PayerState::default();
        state.grants.push(grant("0123456789abcdef0123456789abcdef"));
        state.save(dir.path()).unwrap();
        let now = Utc::now();
        assert!(matches!(
            submit(dir.path(), &revoke(), now).unwrap(),
            Submitted::Applied(_)
        ));
        let saved = PayerState::load(dir.path()).unwrap();
        assert_eq!(saved.grants[0].status, GrantStatus::Ended);
        assert!(saved.grants[0].end_notice_pending);

        // A command that needs the node is refused when none runs.
        let fetch = Command::FetchTerms(crate::subscribe::TermsRequest { code: "x".into() });
        assert!(submit(dir.path(), &fetch, now).is_err());

        let running = dir_lock::lock(dir.path()).unwrap().unwrap();
        let Submitted::Queued(id) = submit(dir.path(), &revoke(), now).unwrap() else {
            panic!("not queued");
        };
        let queued = queued(dir.path());
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].command, revoke());
        assert_eq!(queued[0].id, id);
        // The running payer answers; the waiting command reads it once.
        for q in queued {
            q.done(&Reply::refused("grant 01234567 has ended already"));
        }
        assert!(
            super::queued(dir.path()).is_empty(),
            "a reply is no command"
        );
        let reply = wait_reply(dir.path(), &id, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(reply, Reply::refused("grant 01234567 has ended already"));
        assert!(
            wait_reply(dir.path(), &id, Duration::from_millis(200))
                .await
                .is_err()
        );
        drop(running);
    }

    /// The running payer crashes after reading a command, before saving
    /// what it did: the command is still queued at the next start. And a
    /// crash after saving, before the file is removed, replays a command
    /// that has already been applied, which is refused and changes nothing.
    #[test]
    fn a_command_stays_queued_until_its_effect_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let mut state = PayerState::default();
        state.grants.push(grant("0123456789abcdef0123456789abcdef"));
        state.save(dir.path()).unwrap();
        let running = dir_lock::lock(dir.path()).unwrap().unwrap();
        submit(dir.path(), &revoke(), now).unwrap();

        // Read and applied in memory, then the crash: nothing saved.
        let mut state = PayerState::load(dir.path()).unwrap();
        for q in queued(dir.path()) {
            apply(&mut state, &q.command, now).unwrap();
        }
        drop(state);
        drop(running);

        // The next start finds it, applies it and saves, then crashes
        // before removing the file.
        let mut state = PayerState::load(dir.path()).unwrap();
        assert_eq!(state.grants[0].status, GrantStatus::Active);
        let pending = queued(dir.path());
        assert_eq!(pending.len(), 1);
        apply(&mut state, &pending[0].command, now).unwrap();
        state.save(dir.path()).unwrap();
        drop(pending);

        // The start after that replays it: refused, and nothing changes.
        let mut state = PayerState::load(dir.path()).unwrap();
        assert_eq!(state.grants[0].status, GrantStatus::Ended);
        let before = state.clone();
        for q in queued(dir.path()) {
            assert!(apply(&mut state, &q.command, now).is_err());
            q.done(&Reply::refused("replayed"));
        }
        assert_eq!(state, before);
        assert!(queued(dir.path()).is_empty());
    }

    #[test]
    fn an_unreadable_command_is_set_aside_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(inbox(dir.path())).unwrap();
        let file = inbox(dir.path()).join("01J.json");
        std::fs::write(&file, b"{not json").unwrap();
        assert!(queued(dir.path()).is_empty());
        assert!(!file.exists());
        assert!(inbox(dir.path()).join("01J.unreadable").exists());
    }

    #[test]
    fn only_a_held_push_can_be_approved_or_rejected() {
        let mut state = PayerState::default();
        state.payments.insert("h1".into(), held("aaaaaaaa01"));
        state.payments.insert("h2".into(), held("bbbbbbbb02"));
        let now = Utc::now();
        let approve = |key: &str| Command::Approve {
            push_id: key.into(),
        };
        let reject = |key: &str| Command::Reject {
            push_id: key.into(),
        };
        apply(&mut state, &approve("aaaaaaaa"), now).unwrap();
        assert_eq!(state.payments["h1"].status, Status::Approved);
        let refused = apply(&mut state, &reject("aaaaaaaa01"), now).unwrap_err();
        assert!(
            refused.to_string().contains("approved, not waiting"),
            "{refused}"
        );
        apply(&mut state, &reject("bbbbbbbb02"), now).unwrap();
        assert_eq!(state.payments["h2"].status, Status::Rejected);
        assert_eq!(state.payments["h2"].reason.as_deref(), Some("declined"));
        assert!(apply(&mut state, &approve("nope"), now).is_err());
    }

    #[tokio::test]
    async fn wallet_connections_are_added_once_revoked_once_and_rebudgeted() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let spec = crate::NwcSpec {
            name: Some("Shop".into()),
            budget_msat: 5_000,
            window: BudgetWindow::Weekly,
            relays: vec!["ws://127.0.0.1:7777".into()],
        };
        let (add, uri) = crate::nwc::new_connection(&spec).unwrap();
        let Command::NwcAdd(a) = &add else {
            panic!("not an add")
        };
        assert!(uri.starts_with("nostr+walletconnect://"), "{uri}");
        assert!(!format!("{add:?}").contains(&a.wallet_secret));
        // No payer runs: applied to the state file.
        assert!(matches!(
            submit(dir.path(), &add, now).unwrap(),
            Submitted::Applied(_)
        ));
        // A replay changes nothing; another key under the same id is refused.
        let mut state = PayerState::load(dir.path()).unwrap();
        let before = state.clone();
        apply(&mut state, &add, now).unwrap();
        assert_eq!(state, before);
        let (Command::NwcAdd(other), _) = crate::nwc::new_connection(&spec).unwrap() else {
            panic!("not an add")
        };
        let clash = Command::NwcAdd(crate::nwc::NwcAdd {
            id: a.id.clone(),
            ..other
        });
        assert!(apply(&mut state, &clash, now).is_err());
        let c = &state.nwc_connections[0];
        assert_eq!(
            (c.budget_msat, c.window, c.status),
            (5_000, BudgetWindow::Weekly, NwcStatus::Active)
        );
        let budget = Command::NwcBudget {
            id: a.id.clone(),
            budget_msat: 9_000,
            window: Some(BudgetWindow::Daily),
        };
        apply(&mut state, &budget, now).unwrap();
        assert_eq!(state.nwc_connections[0].budget_msat, 9_000);
        assert_eq!(state.nwc_connections[0].window, BudgetWindow::Daily);
        let revoke = Command::NwcRevoke { id: a.id.clone() };
        apply(&mut state, &revoke, now).unwrap();
        assert_eq!(state.nwc_connections[0].status, NwcStatus::Revoked);
        assert!(apply(&mut state, &revoke, now).is_err(), "revoked already");
        assert!(
            apply(
                &mut state,
                &Command::NwcRevoke {
                    id: "nwc_nope".into()
                },
                now
            )
            .is_err()
        );
        // Bad specs never make a connection.
        for bad in [
            crate::NwcSpec {
                relays: vec![],
                ..spec.clone()
            },
            crate::NwcSpec {
                relays: vec!["not a url".into()],
                ..spec.clone()
            },
            crate::NwcSpec {
                budget_msat: 0,
                ..spec.clone()
            },
        ] {
            assert!(crate::nwc::new_connection(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn paying_by_hand_refuses_what_is_not_an_invoice() {
        let mut state = PayerState::default();
        let now = Utc::now();
        let err = apply(
            &mut state,
            &Command::Pay {
                bolt11: "lnbcrt1nope".into(),
            },
            now,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a BOLT11"), "{err}");
        assert!(state.payments.is_empty());
    }
}
