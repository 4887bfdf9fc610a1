//! How `pushbill payer` commands reach the payer's state.
//!
//! The running payer holds `<data_dir>/lock`. A command run while it runs is
//! dropped into `<data_dir>/inbox/` as a small JSON file (written atomically)
//! and the running payer applies it within a fraction of a second. When no
//! payer runs, the command takes the lock and applies itself to
//! `state.json`. Reading commands (`pending`, `allowance list`) read
//! `state.json`, which is always whole.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::{Allowance, PayerState, Status, write_atomically};

/// A change to the payer's state (or, for a running payer, an action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    AddAllowance(Allowance),
    RemoveAllowance {
        payee: String,
    },
    /// Pay a push held for approval.
    Approve {
        push_id: String,
    },
    /// Decline a push held for approval.
    Reject {
        push_id: String,
    },
}

/// Where a command went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Applied to `state.json` (no payer was running).
    Applied,
    /// Queued for the running payer.
    Queued,
}

/// Runs `command` against the payer in `data_dir`, running or not.
pub fn submit(data_dir: &Path, command: &Command, now: DateTime<Utc>) -> anyhow::Result<Submitted> {
    match dir_lock::lock(data_dir)? {
        Some(_lock) => {
            let mut state = PayerState::load(data_dir)?;
            apply(&mut state, command, now)?;
            state.save(data_dir)?;
            Ok(Submitted::Applied)
        }
        None => {
            let path = inbox(data_dir).join(format!("{}.json", ulid::Ulid::new()));
            write_atomically(&path, &serde_json::to_vec(command)?)?;
            Ok(Submitted::Queued)
        }
    }
}

pub fn inbox(data_dir: &Path) -> PathBuf {
    data_dir.join("inbox")
}

/// A command waiting in the inbox. Its file stays there until [`Queued::done`]
/// (call it once the command's effect is saved), so a crash in between
/// replays the command at the next start: every command is idempotent (a
/// replay changes nothing, or is refused without changing anything).
#[derive(Debug)]
pub struct Queued {
    pub command: Command,
    file: PathBuf,
}

impl Queued {
    /// The command is applied and saved (or refused): its file goes.
    pub fn done(self) {
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
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut commands = Vec::new();
    for file in files {
        match std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Command>(&b).ok())
        {
            Some(command) => commands.push(Queued { command, file }),
            None => {
                tracing::warn!(file = %file.display(), "unreadable payer command set aside");
                let _ = std::fs::rename(&file, file.with_extension("unreadable"));
            }
        }
    }
    commands
}

/// Applies a command to the state. Approving marks the payment `approved`:
/// the running payer pays it next (or at its next start).
pub fn apply(state: &mut PayerState, command: &Command, _now: DateTime<Utc>) -> anyhow::Result<()> {
    match command {
        // Setting the same allowance again changes nothing.
        Command::AddAllowance(allowance) => state.set_allowance(allowance.clone()),
        // Removing, approving or rejecting again is refused without a change.
        Command::RemoveAllowance { payee } => {
            if !state.remove_allowance(payee) {
                bail!("no allowance for {payee}");
            }
        }
        Command::Approve { push_id } | Command::Reject { push_id } => {
            let (_, payment) = state
                .by_push_id(push_id)
                .with_context(|| format!("no push {push_id}"))?;
            if payment.status != Status::PendingApproval {
                bail!("push {push_id} is not waiting for approval");
            }
            payment.status = match command {
                Command::Approve { .. } => Status::Approved,
                _ => Status::Rejected,
            };
            payment.reason = matches!(command, Command::Reject { .. }).then(|| "declined".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Payment, Per};

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
            window_start: None,
            received_at: 0,
            reason: None,
        }
    }

    #[test]
    fn commands_apply_directly_when_no_payer_runs_and_queue_when_one_does() {
        let dir = tempfile::tempdir().unwrap();
        let add = Command::AddAllowance(Allowance {
            payee: "02aa".into(),
            max_msat: 1_000,
            per: Per::Month,
            until: None,
        });
        assert_eq!(
            submit(dir.path(), &add, Utc::now()).unwrap(),
            Submitted::Applied
        );
        assert_eq!(PayerState::load(dir.path()).unwrap().allowances.len(), 1);

        let running = dir_lock::lock(dir.path()).unwrap().unwrap();
        let remove = Command::RemoveAllowance {
            payee: "02aa".into(),
        };
        assert_eq!(
            submit(dir.path(), &remove, Utc::now()).unwrap(),
            Submitted::Queued
        );
        assert_eq!(PayerState::load(dir.path()).unwrap().allowances.len(), 1);
        let queued = queued(dir.path());
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].command, remove);
        for q in queued {
            q.done();
        }
        assert!(super::queued(dir.path()).is_empty());
        drop(running);
    }

    /// The running payer crashes after reading a command, before saving
    /// what it did: the command is still queued at the next start. And a
    /// crash after saving, before the file is removed, replays a command
    /// that has already been applied, which changes nothing.
    #[test]
    fn a_command_stays_queued_until_its_effect_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let add = Command::AddAllowance(Allowance {
            payee: "02aa".into(),
            max_msat: 1_000,
            per: Per::Month,
            until: None,
        });
        submit(dir.path(), &add, now).unwrap();
        let running = dir_lock::lock(dir.path()).unwrap().unwrap();
        let remove = Command::RemoveAllowance {
            payee: "02aa".into(),
        };
        submit(dir.path(), &remove, now).unwrap();

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
        assert_eq!(state.allowances.len(), 1);
        let pending = queued(dir.path());
        assert_eq!(pending.len(), 1);
        apply(&mut state, &pending[0].command, now).unwrap();
        state.save(dir.path()).unwrap();
        drop(pending);

        // The start after that replays it: refused, and nothing changes.
        let mut state = PayerState::load(dir.path()).unwrap();
        assert!(state.allowances.is_empty());
        let before = state.clone();
        for q in queued(dir.path()) {
            assert!(apply(&mut state, &q.command, now).is_err());
            q.done();
        }
        assert_eq!(state, before);
        assert!(queued(dir.path()).is_empty());

        // Adding twice is the same as adding once.
        let mut once = PayerState::default();
        apply(&mut once, &add, now).unwrap();
        let mut twice = once.clone();
        apply(&mut twice, &add, now).unwrap();
        assert_eq!(once, twice);
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
        state.payments.insert("h1".into(), held("p1"));
        state.payments.insert("h2".into(), held("p2"));
        let now = Utc::now();
        apply(
            &mut state,
            &Command::Approve {
                push_id: "p1".into(),
            },
            now,
        )
        .unwrap();
        assert_eq!(state.payments["h1"].status, Status::Approved);
        assert!(
            apply(
                &mut state,
                &Command::Reject {
                    push_id: "p1".into()
                },
                now
            )
            .is_err()
        );
        apply(
            &mut state,
            &Command::Reject {
                push_id: "p2".into(),
            },
            now,
        )
        .unwrap();
        assert_eq!(state.payments["h2"].status, Status::Rejected);
        assert!(
            apply(
                &mut state,
                &Command::Approve {
                    push_id: "nope".into()
                },
                now
            )
            .is_err()
        );
    }
}
