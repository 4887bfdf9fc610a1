//! The payer's durable state: allowances and every push it was sent, in one
//! JSON file (`<data_dir>/state.json`) written atomically (temporary file,
//! fsync, rename). The rules are pure functions of the state, the push and
//! the time, so they are tested without a node.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use push_protocol::wire::RejectReason;

/// A calendar window (UTC) an allowance's spending is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    Minute,
    Hour,
    Day,
    Month,
}

impl Per {
    /// Start (unix seconds) of the window holding `at`.
    pub fn window_start(self, at: DateTime<Utc>) -> i64 {
        let t = at.timestamp();
        match self {
            Per::Minute => t - t.rem_euclid(60),
            Per::Hour => t - t.rem_euclid(3600),
            Per::Day => t - t.rem_euclid(86_400),
            Per::Month => Utc
                .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
                .single()
                .map(|d| d.timestamp())
                .unwrap_or(t),
        }
    }
}

/// "Pay invoices signed by `payee` up to `max_msat` per window, until `until`."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    /// Hex of the payee's node id (the invoice's signer).
    pub payee: String,
    pub max_msat: u64,
    pub per: Per,
    /// Unix seconds after which the allowance no longer applies.
    pub until: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Outside the allowance: waits for `approve` or `reject`.
    PendingApproval,
    /// Approved while the node was not running: paid at the next start.
    Approved,
    /// Handed to the node; counted against the allowance.
    Paying,
    Paid,
    /// The payment failed; not counted against the allowance.
    Failed,
    /// Declined by the subscriber.
    Rejected,
}

/// One pushed invoice the payer accepted for payment or approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Hex of the push id of the first push of this payment hash.
    pub push_id: String,
    /// Hex of the payee (the invoice's signer).
    pub payee: String,
    /// Hex of the peer that delivered the push (replies go there).
    pub peer: String,
    pub amount_msat: u64,
    pub bolt11: String,
    pub merchant_name: String,
    pub invoice_number: String,
    pub plan_name: Option<String>,
    pub status: Status,
    /// The allowance window this payment is counted in; `None` when it was
    /// approved by hand (approved payments do not use up the allowance).
    pub window_start: Option<i64>,
    pub received_at: i64,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerState {
    /// At most one allowance per payee.
    pub allowances: Vec<Allowance>,
    /// Every payment hash ever seen (hex), so none is paid twice.
    pub payments: BTreeMap<String, Payment>,
}

/// What an incoming push comes to, after its invoice is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Inside the allowance: record as paying (window given) and pay.
    Pay {
        window_start: i64,
    },
    /// Outside the allowance: hold for approval.
    Hold,
    Reject(RejectReason),
    /// This payment hash was seen before: answer with what became of it.
    Known(Status),
}

/// The facts of a verified invoice the rules need.
#[derive(Debug, Clone)]
pub struct CheckedInvoice {
    pub payment_hash: String,
    pub payee: String,
    pub amount_msat: u64,
}

impl PayerState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the state atomically and durably.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomically(&Self::path(dir), &serde_json::to_vec_pretty(self)?)
    }

    pub fn allowance_for(&self, payee: &str) -> Option<&Allowance> {
        self.allowances.iter().find(|a| a.payee == payee)
    }

    /// Adds an allowance, replacing the payee's previous one.
    pub fn set_allowance(&mut self, allowance: Allowance) {
        self.allowances.retain(|a| a.payee != allowance.payee);
        self.allowances.push(allowance);
    }

    pub fn remove_allowance(&mut self, payee: &str) -> bool {
        let before = self.allowances.len();
        self.allowances.retain(|a| a.payee != payee);
        before != self.allowances.len()
    }

    /// What was spent under `payee`'s allowance in the window starting at `window_start`.
    pub fn spent(&self, payee: &str, window_start: i64) -> u64 {
        self.payments
            .values()
            .filter(|p| p.payee == payee && p.window_start == Some(window_start))
            .filter(|p| matches!(p.status, Status::Paying | Status::Paid))
            .map(|p| p.amount_msat)
            .sum()
    }

    /// The allowance rules for a verified invoice, at `now`.
    pub fn decide(&self, invoice: &CheckedInvoice, now: DateTime<Utc>) -> Decision {
        if let Some(known) = self.payments.get(&invoice.payment_hash) {
            return Decision::Known(known.status);
        }
        let Some(allowance) = self
            .allowance_for(&invoice.payee)
            .filter(|a| a.until.is_none_or(|until| now.timestamp() < until))
        else {
            return Decision::Reject(RejectReason::NoGrant);
        };
        let window_start = allowance.per.window_start(now);
        let spent = self.spent(&invoice.payee, window_start);
        match spent.checked_add(invoice.amount_msat) {
            Some(total) if total <= allowance.max_msat => Decision::Pay { window_start },
            _ => Decision::Hold,
        }
    }

    pub fn by_push_id(&mut self, push_id: &str) -> Option<(String, &mut Payment)> {
        self.payments
            .iter_mut()
            .find(|(_, p)| p.push_id == push_id)
            .map(|(hash, p)| (hash.clone(), p))
    }
}

/// Writes `bytes` to a temporary file next to `path`, syncs it and renames
/// it over `path`, so a reader sees the old or the new content, never half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("a file in a folder")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        ulid::Ulid::new()
    ));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYEE: &str = "02aa";

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn invoice(hash: &str, amount_msat: u64) -> CheckedInvoice {
        CheckedInvoice {
            payment_hash: hash.into(),
            payee: PAYEE.into(),
            amount_msat,
        }
    }

    fn paying(amount_msat: u64, window_start: i64, status: Status) -> Payment {
        Payment {
            push_id: "p".into(),
            payee: PAYEE.into(),
            peer: PAYEE.into(),
            amount_msat,
            bolt11: String::new(),
            merchant_name: String::new(),
            invoice_number: String::new(),
            plan_name: None,
            status,
            window_start: Some(window_start),
            received_at: 0,
            reason: None,
        }
    }

    #[test]
    fn windows_are_calendar_windows_in_utc() {
        let t = at("2028-02-29T13:45:30Z");
        assert_eq!(
            Per::Minute.window_start(t),
            at("2028-02-29T13:45:00Z").timestamp()
        );
        assert_eq!(
            Per::Hour.window_start(t),
            at("2028-02-29T13:00:00Z").timestamp()
        );
        assert_eq!(
            Per::Day.window_start(t),
            at("2028-02-29T00:00:00Z").timestamp()
        );
        assert_eq!(
            Per::Month.window_start(t),
            at("2028-02-01T00:00:00Z").timestamp()
        );
    }

    #[test]
    fn an_allowance_pays_until_its_window_is_spent_then_holds() {
        let mut state = PayerState::default();
        let now = at("2028-03-10T10:00:00Z");
        assert_eq!(
            state.decide(&invoice("h1", 1_000), now),
            Decision::Reject(RejectReason::NoGrant)
        );
        state.set_allowance(Allowance {
            payee: PAYEE.into(),
            max_msat: 10_000,
            per: Per::Month,
            until: None,
        });
        let month = Per::Month.window_start(now);
        assert_eq!(
            state.decide(&invoice("h1", 10_000), now),
            Decision::Pay {
                window_start: month
            }
        );
        state
            .payments
            .insert("h1".into(), paying(6_000, month, Status::Paid));
        assert_eq!(state.decide(&invoice("h2", 4_001), now), Decision::Hold);
        assert_eq!(
            state.decide(&invoice("h2", 4_000), now),
            Decision::Pay {
                window_start: month
            }
        );
        // A failed payment gives its amount back; the next month starts afresh.
        state.payments.get_mut("h1").unwrap().status = Status::Failed;
        assert!(matches!(
            state.decide(&invoice("h2", 10_000), now),
            Decision::Pay { .. }
        ));
        state.payments.get_mut("h1").unwrap().status = Status::Paying;
        assert!(matches!(
            state.decide(&invoice("h2", 10_000), at("2028-04-01T00:00:00Z")),
            Decision::Pay { .. }
        ));
        // A hash seen before is never decided again.
        assert_eq!(
            state.decide(&invoice("h1", 1), now),
            Decision::Known(Status::Paying)
        );
        assert_eq!(state.decide(&invoice("h3", u64::MAX), now), Decision::Hold);
    }

    #[test]
    fn an_allowance_ends_at_its_until_time() {
        let mut state = PayerState::default();
        let now = at("2028-03-10T10:00:00Z");
        state.set_allowance(Allowance {
            payee: PAYEE.into(),
            max_msat: 1_000,
            per: Per::Minute,
            until: Some(now.timestamp() + 3600),
        });
        assert!(matches!(
            state.decide(&invoice("h", 1_000), now),
            Decision::Pay { .. }
        ));
        assert_eq!(
            state.decide(&invoice("h", 1_000), now + chrono::Duration::hours(1)),
            Decision::Reject(RejectReason::NoGrant)
        );
        assert!(state.remove_allowance(PAYEE));
        assert!(!state.remove_allowance(PAYEE));
    }

    #[test]
    fn the_state_is_saved_and_loaded_whole() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PayerState::load(dir.path()).unwrap(), PayerState::default());
        let mut state = PayerState::default();
        state.set_allowance(Allowance {
            payee: PAYEE.into(),
            max_msat: 5,
            per: Per::Day,
            until: None,
        });
        state
            .payments
            .insert("h".into(), paying(5, 0, Status::Paying));
        state.save(dir.path()).unwrap();
        assert_eq!(PayerState::load(dir.path()).unwrap(), state);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
