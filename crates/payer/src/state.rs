//! The payer's durable state: grants and every push it was sent, in one
//! JSON file (`<data_dir>/state.json`) written atomically (temporary file,
//! fsync, rename). The rules are pure functions of the state, the push and
//! the time, so they are tested without a node.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use push_protocol::wire::RejectReason;

/// A calendar window (UTC) a grant's spending is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Window {
    Minute,
    Hour,
    Day,
    /// ISO week: from Monday 00:00 UTC.
    Week,
    /// Calendar month.
    Month,
}

impl Window {
    /// Start (unix seconds) of the window holding `at`.
    pub fn start(self, at: DateTime<Utc>) -> i64 {
        let t = at.timestamp();
        let day = t - t.rem_euclid(86_400);
        match self {
            Window::Minute => t - t.rem_euclid(60),
            Window::Hour => t - t.rem_euclid(3600),
            Window::Day => day,
            Window::Week => day - i64::from(at.weekday().num_days_from_monday()) * 86_400,
            Window::Month => Utc
                .with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0)
                .single()
                .map(|d| d.timestamp())
                .unwrap_or(day),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Window::Minute => "minute",
            Window::Hour => "hour",
            Window::Day => "day",
            Window::Week => "week",
            Window::Month => "month",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Saved before the acceptance is sent; the merchant has not confirmed it.
    Proposed,
    /// Confirmed by the merchant: invoices committing to it are paid inside its caps.
    Active,
    /// Revoked by the subscriber or ended by the merchant: pays nothing.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndedBy {
    Subscriber,
    Merchant,
}

/// The subscriber's consent: invoices signed by `payee` that commit to this
/// grant's id (in their signed description) are paid up to `cap_msat` per
/// `window`, and each up to `per_invoice_max_msat`, until `ends_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// 32 lowercase hex (`push_protocol::grant::GrantId`), chosen by this payer.
    pub id: String,
    /// Hex of the payee's node id (the signer of the invoices).
    pub payee: String,
    /// The merchant, as the deployment names it (`mer_...`).
    pub merchant_id: String,
    pub merchant_name: String,
    /// The subscription it pays; none for an account grant.
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub customer_id: Option<String>,
    /// The plan or account text of the terms.
    #[serde(default)]
    pub description: Option<String>,
    pub label: Option<String>,
    pub cap_msat: u64,
    pub window: Window,
    pub per_invoice_max_msat: Option<u64>,
    /// Unix seconds from which the grant pays nothing.
    pub ends_at: Option<i64>,
    pub status: GrantStatus,
    #[serde(default)]
    pub ended_by: Option<EndedBy>,
    /// The merchant has not acknowledged the end yet (`grant_end` is re-sent).
    #[serde(default)]
    pub end_notice_pending: bool,
    pub created_at: i64,
    /// Hex of the offer (the terms) this grant accepted.
    #[serde(default)]
    pub offer_id: Option<String>,
    /// Where the merchant's node listens (`host:port`), to tell it of an end.
    #[serde(default)]
    pub merchant_address: Option<String>,
    /// Given to the merchant for receipts.
    #[serde(default)]
    pub email: Option<String>,
}

impl Grant {
    /// Live: active and not past its end.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.status == GrantStatus::Active && self.ends_at.is_none_or(|t| now.timestamp() < t)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Outside every grant: waits for `approve` or `reject`.
    PendingApproval,
    /// Approved while the node was not running: paid at the next start.
    Approved,
    /// Handed to the node; counted against its grant.
    Paying,
    Paid,
    /// The payment failed; not counted against the grant.
    Failed,
    /// Declined by the subscriber.
    Rejected,
    /// A newer push of the same invoice number from the same payee replaced it.
    Superseded,
    /// Its BOLT11 expired while it waited for approval.
    Expired,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::PendingApproval => "pending_approval",
            Status::Approved => "approved",
            Status::Paying => "paying",
            Status::Paid => "paid",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Superseded => "superseded",
            Status::Expired => "expired",
        }
    }
}

/// One pushed invoice the payer accepted for payment or approval (or one
/// paid by hand with `payer pay`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Hex of the push id of the first push of this payment hash (empty for
    /// one paid by hand).
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
    /// The grant it is counted under (paid automatically), if any.
    #[serde(default)]
    pub grant_id: Option<String>,
    /// The grant's window this payment is counted in; `None` when it was
    /// approved or paid by hand (those do not use up a grant).
    pub window_start: Option<i64>,
    pub received_at: i64,
    /// When its BOLT11 expires (unix seconds).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// It came in as a request for approval (counts against the request limit).
    #[serde(default)]
    pub held: bool,
    /// Why it was held, failed or rejected.
    pub reason: Option<String>,
    /// The wallet connection (NIP-47) that asked for it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nwc_id: Option<String>,
    /// Hex of the preimage, kept for a paid NIP-47 payment: a repeated
    /// `pay_invoice` of its hash is answered with it, never paid again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preimage: Option<String>,
}

/// How often a wallet connection's budget starts afresh (NWC-13's
/// `renewal_period`), in calendar windows (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum BudgetWindow {
    Daily,
    /// ISO week: from Monday 00:00 UTC.
    Weekly,
    #[default]
    Monthly,
    Yearly,
    /// One budget for the connection's whole life.
    Never,
}

impl BudgetWindow {
    /// Start (unix seconds) of the window holding `at` (0 for `never`).
    pub fn start(self, at: DateTime<Utc>) -> i64 {
        match self {
            BudgetWindow::Daily => Window::Day.start(at),
            BudgetWindow::Weekly => Window::Week.start(at),
            BudgetWindow::Monthly => Window::Month.start(at),
            BudgetWindow::Yearly => Utc
                .with_ymd_and_hms(at.year(), 1, 1, 0, 0, 0)
                .single()
                .map_or_else(|| Window::Day.start(at), |d| d.timestamp()),
            BudgetWindow::Never => 0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BudgetWindow::Daily => "daily",
            BudgetWindow::Weekly => "weekly",
            BudgetWindow::Monthly => "monthly",
            BudgetWindow::Yearly => "yearly",
            BudgetWindow::Never => "never",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NwcStatus {
    Active,
    /// Pays nothing; its requests are answered `UNAUTHORIZED`.
    Revoked,
}

/// A Nostr Wallet Connect (NIP-47) connection: its client (the holder of
/// the URI's secret) may have invoices paid up to `budget_msat` per
/// `window`. The wallet service's key is this connection's own; the
/// client's secret is never kept, only its public key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NwcConnection {
    /// `nwc_<ulid>`.
    pub id: String,
    pub name: Option<String>,
    /// Hex of the wallet service's secret key for this connection (secret:
    /// never logged nor listed).
    pub wallet_secret: String,
    /// Hex (x-only, 32 bytes) of the wallet service's public key: the URI's host.
    pub wallet_pubkey: String,
    /// Hex (x-only) of the client's public key: the only author served.
    pub client_pubkey: String,
    pub relays: Vec<String>,
    pub budget_msat: u64,
    pub window: BudgetWindow,
    pub status: NwcStatus,
    pub created_at: i64,
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

impl std::fmt::Debug for NwcConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NwcConnection")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("wallet_secret", &"<secret>")
            .field("wallet_pubkey", &self.wallet_pubkey)
            .field("client_pubkey", &self.client_pubkey)
            .field("relays", &self.relays)
            .field("budget_msat", &self.budget_msat)
            .field("window", &self.window)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("revoked_at", &self.revoked_at)
            .finish()
    }
}

/// What a NIP-47 `pay_invoice` of a verified invoice comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NwcDecision {
    /// Inside the budget: recorded as paying (in the window starting at
    /// `window_start`); pay it.
    Pay { window_start: i64 },
    /// Paid before (by either rail): answer with this preimage.
    Paid { preimage: String },
    /// Being paid now (by either rail): wait for its end.
    InFlight,
    /// Not paid, and not paid now.
    Refused(NwcRefusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NwcRefusal {
    /// No such connection, or revoked.
    Unauthorized,
    /// Over what is left of the budget in this window (what is left).
    QuotaExceeded { left_msat: u64 },
    /// Paid before, but its preimage is not known (a push, or a crash in between).
    PaidWithoutPreimage,
    /// The hash is known with this status (held, rejected, ...): never paid this way.
    Known(Status),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerState {
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Every payment hash ever seen (hex), so none is paid twice.
    pub payments: BTreeMap<String, Payment>,
    /// Wallet connections (NIP-47) this payer offers.
    #[serde(default)]
    pub nwc_connections: Vec<NwcConnection>,
    /// In the sandbox, the latest period start its node pushed (unix
    /// seconds): the payer's time is never before it (see [`Self::time`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_time: Option<i64>,
    /// The allowances of payers before grants: read and dropped (they bound
    /// consent to a payee key alone, which any merchant of a deployment has).
    #[serde(default, rename = "allowances", skip_serializing)]
    legacy_allowances: Option<serde_json::Value>,
}

/// Why a push is held for approval instead of paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// The invoice's description commits to no grant.
    NoCommitment,
    /// It commits to a grant this payer does not have.
    UnknownGrant(String),
    /// The grant is proposed or ended, or past its end.
    NotLive(String),
    /// Signed by another node than the grant's payee.
    WrongPayee(String),
    OverPerInvoice(String),
    OverCap(String),
}

impl Hold {
    pub fn describe(&self) -> String {
        match self {
            Hold::NoCommitment => "no grant: the invoice commits to none".into(),
            Hold::UnknownGrant(g) => {
                format!("no grant: the invoice names grant {g}, not one of ours")
            }
            Hold::NotLive(g) => format!("grant {g} is not live"),
            Hold::WrongPayee(g) => format!("grant {g} is for another payee"),
            Hold::OverPerInvoice(g) => format!("over the per-invoice cap of grant {g}"),
            Hold::OverCap(g) => format!("over the cap of grant {g} in this window"),
        }
    }
}

/// What an incoming push comes to, after its invoice is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Inside a live grant: record as paying (grant and window given) and pay.
    Pay {
        grant_id: String,
        window_start: i64,
    },
    /// Outside every grant: hold for approval.
    Hold(Hold),
    Reject(RejectReason),
    /// This payment hash was seen before: answer with what became of it.
    Known(Status),
}

/// The facts of a verified invoice the rules need.
#[derive(Debug, Clone)]
pub struct CheckedInvoice {
    pub payment_hash: String,
    /// Hex of the invoice's signed payee.
    pub payee: String,
    pub amount_msat: u64,
    /// The grant its signed description commits to (hex), if any.
    pub grant: Option<String>,
    pub expires_at: i64,
}

/// Bounds on the requests inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Held pushes taken from one delivering peer per UTC day; past it they
    /// are rejected with `request_limit`.
    pub max_requests_per_peer_per_day: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_requests_per_peer_per_day: 20,
        }
    }
}

impl PayerState {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("state.json")
    }

    pub fn load(dir: &Path) -> anyhow::Result<Self> {
        let path = Self::path(dir);
        let mut state: Self = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("reading {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::default(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if state.legacy_allowances.take().is_some() {
            tracing::warn!(
                file = %path.display(),
                "the allowances in the state file are ignored: consent is a grant now (`payer subscribe`)"
            );
        }
        Ok(state)
    }

    /// Writes the state atomically and durably.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        write_atomically(&Self::path(dir), &serde_json::to_vec_pretty(self)?)
    }

    /// The payer's time, given the clock's: never before the sandbox's time.
    pub fn time(&self, clock: DateTime<Utc>) -> DateTime<Utc> {
        match self
            .sandbox_time
            .and_then(|t| DateTime::from_timestamp(t, 0))
        {
            Some(sandbox) if sandbox > clock => sandbox,
            _ => clock,
        }
    }

    pub fn grant(&self, id: &str) -> Option<&Grant> {
        self.grants.iter().find(|g| g.id == id)
    }

    pub fn grant_mut(&mut self, id: &str) -> Option<&mut Grant> {
        self.grants.iter_mut().find(|g| g.id == id)
    }

    /// What was spent under grant `grant_id` in the window starting at `window_start`.
    pub fn spent(&self, grant_id: &str, window_start: i64) -> u64 {
        self.payments
            .values()
            .filter(|p| p.grant_id.as_deref() == Some(grant_id))
            .filter(|p| p.window_start == Some(window_start))
            .filter(|p| matches!(p.status, Status::Paying | Status::Paid))
            .map(|p| p.amount_msat)
            .sum()
    }

    /// What is spent and what is left of `grant` in the window holding `now`.
    pub fn spent_and_left(&self, grant: &Grant, now: DateTime<Utc>) -> (u64, u64) {
        let spent = self.spent(&grant.id, grant.window.start(now));
        (spent, grant.cap_msat.saturating_sub(spent))
    }

    /// The grant rules for a verified invoice, at `now`: pay only an invoice
    /// that commits to a live grant of ours, is signed by that grant's
    /// payee and fits its caps. Who delivered it does not matter.
    pub fn judge(&self, invoice: &CheckedInvoice, now: DateTime<Utc>) -> Result<Decision, Hold> {
        if let Some(known) = self.payments.get(&invoice.payment_hash) {
            return Ok(Decision::Known(known.status));
        }
        let id = invoice.grant.as_deref().ok_or(Hold::NoCommitment)?;
        let grant = self
            .grant(id)
            .ok_or_else(|| Hold::UnknownGrant(id.to_owned()))?;
        if !grant.is_live(now) {
            return Err(Hold::NotLive(grant.id.clone()));
        }
        if grant.payee != invoice.payee {
            return Err(Hold::WrongPayee(grant.id.clone()));
        }
        if grant
            .per_invoice_max_msat
            .is_some_and(|max| invoice.amount_msat > max)
        {
            return Err(Hold::OverPerInvoice(grant.id.clone()));
        }
        let window_start = grant.window.start(now);
        match self
            .spent(&grant.id, window_start)
            .checked_add(invoice.amount_msat)
        {
            Some(total) if total <= grant.cap_msat => Ok(Decision::Pay {
                grant_id: grant.id.clone(),
                window_start,
            }),
            _ => Err(Hold::OverCap(grant.id.clone())),
        }
    }

    /// [`Self::judge`], then the requests inbox's bound: a push that would be
    /// held while `peer` has had `limits` held pushes today is rejected.
    pub fn decide(
        &self,
        invoice: &CheckedInvoice,
        peer: &str,
        now: DateTime<Utc>,
        limits: &Limits,
    ) -> Decision {
        match self.judge(invoice, now) {
            Ok(decision) => decision,
            Err(hold) => {
                let today = Window::Day.start(now);
                let held_today = self
                    .payments
                    .values()
                    .filter(|p| p.held && p.peer == peer && p.received_at >= today)
                    .count();
                if held_today < limits.max_requests_per_peer_per_day as usize {
                    Decision::Hold(hold)
                } else if matches!(hold, Hold::OverCap(_) | Hold::OverPerInvoice(_)) {
                    Decision::Reject(RejectReason::OverGrant)
                } else {
                    Decision::Reject(RejectReason::RequestLimit)
                }
            }
        }
    }

    /// Records a new payment. An older push of the same invoice number from
    /// the same payee still waiting for approval is superseded by it.
    pub fn record(&mut self, payment_hash: String, payment: Payment) {
        if !payment.invoice_number.is_empty() {
            for old in self.payments.values_mut() {
                if old.status == Status::PendingApproval
                    && old.payee == payment.payee
                    && old.invoice_number == payment.invoice_number
                {
                    old.status = Status::Superseded;
                    old.reason = Some(format!("replaced by push {}", payment.push_id));
                }
            }
        }
        self.payments.insert(payment_hash, payment);
    }

    /// Whether a held push's BOLT11 has expired at `now` ([`Self::expire`] has work).
    pub fn has_expired(&self, now: DateTime<Utc>) -> bool {
        self.payments.values().any(|p| {
            p.status == Status::PendingApproval
                && p.expires_at.is_some_and(|t| t <= now.timestamp())
        })
    }

    /// Held pushes whose BOLT11 has expired leave the pending list; true if any did.
    pub fn expire(&mut self, now: DateTime<Utc>) -> bool {
        let mut changed = false;
        for p in self.payments.values_mut() {
            if p.status == Status::PendingApproval
                && p.expires_at.is_some_and(|t| t <= now.timestamp())
            {
                p.status = Status::Expired;
                changed = true;
            }
        }
        changed
    }

    /// The payment `key` names: its payment hash, the push id, their first
    /// 8+ hex digits, or the invoice number (of a push waiting for approval
    /// when several share it); an error when none or several match.
    pub fn find_payment(&self, key: &str) -> anyhow::Result<String> {
        let key = key.trim();
        if key.is_empty() {
            bail!("give a push id, its first 8 hex digits, or an invoice number");
        }
        if self.payments.contains_key(key) {
            return Ok(key.to_owned());
        }
        let lower = key.to_ascii_lowercase();
        let hexy = lower.len() >= 8 && lower.chars().all(|c| c.is_ascii_hexdigit());
        let mut matches: Vec<&String> = self
            .payments
            .iter()
            .filter(|(hash, p)| {
                p.push_id == lower
                    || (hexy && (p.push_id.starts_with(&lower) || hash.starts_with(&lower)))
            })
            .map(|(hash, _)| hash)
            .collect();
        if matches.is_empty() {
            let numbered: Vec<(&String, &Payment)> = self
                .payments
                .iter()
                .filter(|(_, p)| p.invoice_number == key)
                .collect();
            let waiting: Vec<&String> = numbered
                .iter()
                .filter(|(_, p)| p.status == Status::PendingApproval)
                .map(|(h, _)| *h)
                .collect();
            matches = match waiting.len() {
                0 => numbered.iter().map(|(h, _)| *h).collect(),
                _ => waiting,
            };
        }
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => bail!("no push {key}"),
            _ => bail!(
                "{key} names {} pushes: give more of the push id",
                matches.len()
            ),
        }
    }

    /// The grant `key` names: its id or its first 8+ hex digits.
    pub fn find_grant(&self, key: &str) -> anyhow::Result<String> {
        let key = key.trim().to_ascii_lowercase();
        if self.grant(&key).is_some() {
            return Ok(key);
        }
        let matches: Vec<&Grant> = match key.len() >= 8 {
            true => self
                .grants
                .iter()
                .filter(|g| g.id.starts_with(&key))
                .collect(),
            false => Vec::new(),
        };
        match matches.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => bail!("no grant {key}"),
            _ => bail!("{key} names {} grants: give more of the id", matches.len()),
        }
    }
}

impl PayerState {
    pub fn nwc(&self, id: &str) -> Option<&NwcConnection> {
        self.nwc_connections.iter().find(|c| c.id == id)
    }

    pub fn nwc_mut(&mut self, id: &str) -> Option<&mut NwcConnection> {
        self.nwc_connections.iter_mut().find(|c| c.id == id)
    }

    /// What connection `id` has spent (paying or paid) in the window
    /// starting at `window_start`.
    pub fn nwc_spent(&self, id: &str, window_start: i64) -> u64 {
        self.payments
            .values()
            .filter(|p| p.nwc_id.as_deref() == Some(id))
            .filter(|p| p.window_start == Some(window_start))
            .filter(|p| matches!(p.status, Status::Paying | Status::Paid))
            .map(|p| p.amount_msat)
            .sum()
    }

    /// What is spent and what is left of connection `c`'s budget in the window holding `now`.
    pub fn nwc_spent_and_left(&self, c: &NwcConnection, now: DateTime<Utc>) -> (u64, u64) {
        let spent = self.nwc_spent(&c.id, c.window.start(now));
        (spent, c.budget_msat.saturating_sub(spent))
    }

    /// The rules of a NIP-47 `pay_invoice` by connection `id` of a verified
    /// invoice at `now`; on [`NwcDecision::Pay`] the payment is recorded as
    /// paying (the spend is in the state before the payment leaves). A hash
    /// seen before is never paid again, whichever rail asked, except one
    /// this connection's own request failed to pay (nothing left).
    pub fn nwc_pay(
        &mut self,
        id: &str,
        invoice: &CheckedInvoice,
        bolt11: &str,
        now: DateTime<Utc>,
    ) -> NwcDecision {
        let Some(c) = self.nwc(id).filter(|c| c.status == NwcStatus::Active) else {
            return NwcDecision::Refused(NwcRefusal::Unauthorized);
        };
        let (window, name) = (c.window, c.name.clone());
        if let Some(known) = self.payments.get(&invoice.payment_hash) {
            let retry = known.status == Status::Failed && known.nwc_id.as_deref() == Some(id);
            if !retry {
                return match (known.status, &known.preimage) {
                    (Status::Paid, Some(p)) => NwcDecision::Paid {
                        preimage: p.clone(),
                    },
                    // Paid through a connection: its request is keeping the preimage.
                    (Status::Paid, None) if known.nwc_id.is_some() => NwcDecision::InFlight,
                    (Status::Paid, None) => NwcDecision::Refused(NwcRefusal::PaidWithoutPreimage),
                    (Status::Paying | Status::Approved, _) => NwcDecision::InFlight,
                    (status, _) => NwcDecision::Refused(NwcRefusal::Known(status)),
                };
            }
        }
        let (_, left) = self.nwc_spent_and_left(self.nwc(id).expect("found"), now);
        if invoice.amount_msat > left {
            return NwcDecision::Refused(NwcRefusal::QuotaExceeded { left_msat: left });
        }
        let window_start = window.start(now);
        self.payments.insert(
            invoice.payment_hash.clone(),
            Payment {
                push_id: String::new(),
                payee: invoice.payee.clone(),
                peer: String::new(),
                amount_msat: invoice.amount_msat,
                bolt11: bolt11.to_owned(),
                merchant_name: name.unwrap_or_default(),
                invoice_number: String::new(),
                plan_name: None,
                status: Status::Paying,
                grant_id: None,
                window_start: Some(window_start),
                received_at: now.timestamp(),
                expires_at: Some(invoice.expires_at),
                held: false,
                reason: Some(format!("wallet connection {id}")),
                nwc_id: Some(id.to_owned()),
                preimage: None,
            },
        );
        NwcDecision::Pay { window_start }
    }

    /// The connection `key` names: its id or a unique prefix of it (8+ characters).
    pub fn find_nwc(&self, key: &str) -> anyhow::Result<String> {
        let key = key.trim();
        if self.nwc(key).is_some() {
            return Ok(key.to_owned());
        }
        let matches: Vec<&NwcConnection> = match key.len() >= 8 {
            true => self
                .nwc_connections
                .iter()
                .filter(|c| c.id.starts_with(key))
                .collect(),
            false => Vec::new(),
        };
        match matches.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => bail!("no wallet connection {key}"),
            _ => bail!(
                "{key} names {} wallet connections: give more of the id",
                matches.len()
            ),
        }
    }
}

/// `at` plus `by`, for ends and windows (saturating far in the future).
pub fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at.checked_add_signed(by)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
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
        // Readable by the owner only: the state holds the wallet connections' keys.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
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
    const OTHER_PAYEE: &str = "02bb";
    const GRANT: &str = "0123456789abcdef0123456789abcdef";
    const PEER: &str = "03cc";

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn grant(cap_msat: u64, window: Window) -> Grant {
        Grant {
            id: GRANT.into(),
            payee: PAYEE.into(),
            merchant_id: "mer_1".into(),
            merchant_name: "Shop".into(),
            subscription_id: Some("sub_1".into()),
            customer_id: None,
            description: None,
            label: None,
            cap_msat,
            window,
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

    fn invoice(hash: &str, amount_msat: u64) -> CheckedInvoice {
        CheckedInvoice {
            payment_hash: hash.into(),
            payee: PAYEE.into(),
            amount_msat,
            grant: Some(GRANT.into()),
            expires_at: i64::MAX,
        }
    }

    fn payment(amount_msat: u64, window_start: Option<i64>, status: Status) -> Payment {
        Payment {
            push_id: "p".into(),
            payee: PAYEE.into(),
            peer: PEER.into(),
            amount_msat,
            bolt11: String::new(),
            merchant_name: String::new(),
            invoice_number: String::new(),
            plan_name: None,
            status,
            grant_id: window_start.map(|_| GRANT.into()),
            window_start,
            received_at: 0,
            expires_at: None,
            held: window_start.is_none(),
            reason: None,
            nwc_id: None,
            preimage: None,
        }
    }

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn windows_are_calendar_windows_in_utc() {
        let t = at("2028-02-29T13:45:30Z");
        let start = |w: Window| w.start(t);
        assert_eq!(
            start(Window::Minute),
            at("2028-02-29T13:45:00Z").timestamp()
        );
        assert_eq!(start(Window::Hour), at("2028-02-29T13:00:00Z").timestamp());
        assert_eq!(start(Window::Day), at("2028-02-29T00:00:00Z").timestamp());
        // 29 February 2028 is a Tuesday: its ISO week began on Monday the 28th.
        assert_eq!(start(Window::Week), at("2028-02-28T00:00:00Z").timestamp());
        assert_eq!(
            Window::Week.start(at("2028-02-28T00:00:00Z")),
            at("2028-02-28T00:00:00Z").timestamp()
        );
        assert_eq!(
            Window::Week.start(at("2028-03-05T23:59:59Z")),
            at("2028-02-28T00:00:00Z").timestamp()
        );
        assert_eq!(start(Window::Month), at("2028-02-01T00:00:00Z").timestamp());
    }

    #[test]
    fn the_sandbox_time_only_moves_the_clock_forward() {
        let mut state = PayerState::default();
        let clock = at("2028-03-10T10:00:00Z");
        assert_eq!(state.time(clock), clock);
        state.sandbox_time = Some(at("2028-04-01T00:00:00Z").timestamp());
        assert_eq!(state.time(clock), at("2028-04-01T00:00:00Z"));
        assert_eq!(
            state.time(at("2028-05-01T00:00:00Z")),
            at("2028-05-01T00:00:00Z")
        );
    }

    #[test]
    fn a_grant_pays_until_its_window_is_spent_then_holds() {
        let mut state = PayerState::default();
        let now = at("2028-03-10T10:00:00Z");
        state.grants.push(grant(10_000, Window::Month));
        let month = Window::Month.start(now);
        let pay = Decision::Pay {
            grant_id: GRANT.into(),
            window_start: month,
        };
        assert_eq!(
            state.decide(&invoice("h1", 10_000), PEER, now, &limits()),
            pay
        );
        state
            .payments
            .insert("h1".into(), payment(6_000, Some(month), Status::Paid));
        assert_eq!(
            state.decide(&invoice("h2", 4_001), PEER, now, &limits()),
            Decision::Hold(Hold::OverCap(GRANT.into()))
        );
        assert_eq!(
            state.decide(&invoice("h2", 4_000), PEER, now, &limits()),
            pay
        );
        assert_eq!(state.spent_and_left(&state.grants[0], now), (6_000, 4_000));
        // A failed payment gives its amount back; the next month starts afresh.
        state.payments.get_mut("h1").unwrap().status = Status::Failed;
        assert_eq!(
            state.decide(&invoice("h2", 10_000), PEER, now, &limits()),
            pay
        );
        state.payments.get_mut("h1").unwrap().status = Status::Paying;
        assert!(matches!(
            state.decide(
                &invoice("h2", 10_000),
                PEER,
                at("2028-04-01T00:00:00Z"),
                &limits()
            ),
            Decision::Pay { .. }
        ));
        // Payments approved by hand do not use up the grant.
        state
            .payments
            .insert("h0".into(), payment(9_000, None, Status::Paid));
        assert_eq!(
            state.decide(&invoice("h2", 4_000), PEER, now, &limits()),
            pay
        );
        // A hash seen before is never decided again.
        assert_eq!(
            state.decide(&invoice("h1", 1), PEER, now, &limits()),
            Decision::Known(Status::Paying)
        );
        assert_eq!(
            state.decide(&invoice("h3", u64::MAX), PEER, now, &limits()),
            Decision::Hold(Hold::OverCap(GRANT.into()))
        );
    }

    /// Use case 3: 1,000 sat a minute for an hour; 50 invoices of 20 sat fill a minute.
    #[test]
    fn a_minute_window_holds_the_51st_and_resumes_the_next_minute() {
        let mut state = PayerState::default();
        let start = at("2028-03-10T10:00:05Z");
        let mut g = grant(1_000_000, Window::Minute);
        g.ends_at = Some(start.timestamp() + 3600);
        state.grants.push(g);
        for i in 0..50 {
            let hash = format!("h{i}");
            let Decision::Pay { window_start, .. } =
                state.decide(&invoice(&hash, 20_000), PEER, start, &limits())
            else {
                panic!("push {i} not paid");
            };
            state
                .payments
                .insert(hash, payment(20_000, Some(window_start), Status::Paid));
        }
        assert_eq!(
            state.decide(&invoice("h50", 20_000), PEER, start, &limits()),
            Decision::Hold(Hold::OverCap(GRANT.into()))
        );
        let next_minute = at("2028-03-10T10:01:00Z");
        assert!(matches!(
            state.decide(&invoice("h50", 20_000), PEER, next_minute, &limits()),
            Decision::Pay { .. }
        ));
        // The hour is over: nothing more is paid.
        assert_eq!(
            state.decide(
                &invoice("h50", 20_000),
                PEER,
                at("2028-03-10T11:00:05Z"),
                &limits()
            ),
            Decision::Hold(Hold::NotLive(GRANT.into()))
        );
        assert!(matches!(
            state.decide(
                &invoice("h50", 20_000),
                PEER,
                at("2028-03-10T11:00:04Z"),
                &limits()
            ),
            Decision::Pay { .. }
        ));
    }

    #[test]
    fn only_a_live_grant_of_ours_for_the_signed_payee_pays() {
        let mut state = PayerState::default();
        let now = at("2028-03-10T10:00:00Z");
        state.grants.push(grant(10_000, Window::Month));
        let decide =
            |state: &PayerState, inv: &CheckedInvoice| state.decide(inv, PEER, now, &limits());

        let mut none = invoice("h", 1_000);
        none.grant = None;
        assert_eq!(decide(&state, &none), Decision::Hold(Hold::NoCommitment));

        let mut another = invoice("h", 1_000);
        another.grant = Some("ffffffffffffffffffffffffffffffff".into());
        assert_eq!(
            decide(&state, &another),
            Decision::Hold(Hold::UnknownGrant(
                "ffffffffffffffffffffffffffffffff".into()
            ))
        );

        // Another merchant's node signs an invoice naming our grant for the first.
        let mut wrong_payee = invoice("h", 1_000);
        wrong_payee.payee = OTHER_PAYEE.into();
        assert_eq!(
            decide(&state, &wrong_payee),
            Decision::Hold(Hold::WrongPayee(GRANT.into()))
        );

        state.grants[0].per_invoice_max_msat = Some(999);
        assert_eq!(
            decide(&state, &invoice("h", 1_000)),
            Decision::Hold(Hold::OverPerInvoice(GRANT.into()))
        );
        assert!(matches!(
            decide(&state, &invoice("h", 999)),
            Decision::Pay { .. }
        ));

        state.grants[0].ends_at = Some(now.timestamp());
        assert_eq!(
            decide(&state, &invoice("h", 999)),
            Decision::Hold(Hold::NotLive(GRANT.into()))
        );
        state.grants[0].ends_at = Some(now.timestamp() + 1);
        assert!(matches!(
            decide(&state, &invoice("h", 999)),
            Decision::Pay { .. }
        ));

        for status in [GrantStatus::Proposed, GrantStatus::Ended] {
            state.grants[0].status = status;
            assert_eq!(
                decide(&state, &invoice("h", 999)),
                Decision::Hold(Hold::NotLive(GRANT.into()))
            );
        }
    }

    #[test]
    fn held_requests_are_bounded_per_peer_and_per_day() {
        let mut state = PayerState::default();
        let now = at("2028-03-10T23:59:00Z");
        let limits = Limits {
            max_requests_per_peer_per_day: 2,
        };
        let mut request = invoice("h", 1_000);
        request.grant = None;
        for i in 0..2 {
            assert_eq!(
                state.decide(&request, PEER, now, &limits),
                Decision::Hold(Hold::NoCommitment)
            );
            let mut held = payment(1_000, None, Status::PendingApproval);
            held.received_at = now.timestamp();
            state.payments.insert(format!("held{i}"), held);
        }
        assert_eq!(
            state.decide(&request, PEER, now, &limits),
            Decision::Reject(RejectReason::RequestLimit)
        );
        // Approving or rejecting does not give the day's slots back.
        state.payments.get_mut("held0").unwrap().status = Status::Rejected;
        assert_eq!(
            state.decide(&request, PEER, now, &limits),
            Decision::Reject(RejectReason::RequestLimit)
        );
        // Another peer has its own bound, and so has the next day.
        assert_eq!(
            state.decide(&request, "03dd", now, &limits),
            Decision::Hold(Hold::NoCommitment)
        );
        assert_eq!(
            state.decide(&request, PEER, at("2028-03-11T00:00:00Z"), &limits),
            Decision::Hold(Hold::NoCommitment)
        );
        // Over a grant's cap is held, and bounded the same way, refused
        // as over the grant so that the merchant knows why.
        state.grants.push(grant(500, Window::Month));
        assert_eq!(
            state.decide(&invoice("h", 1_000), PEER, now, &limits),
            Decision::Reject(RejectReason::OverGrant)
        );
        // A push inside a grant is never bounded.
        assert!(matches!(
            state.decide(&invoice("h", 500), PEER, now, &limits),
            Decision::Pay { .. }
        ));
    }

    #[test]
    fn a_newer_push_of_an_invoice_number_supersedes_the_waiting_one_and_expired_ones_go() {
        let mut state = PayerState::default();
        let held = |push_id: &str, payee: &str, number: &str| Payment {
            push_id: push_id.into(),
            payee: payee.into(),
            invoice_number: number.into(),
            expires_at: Some(1_000),
            ..payment(1_000, None, Status::PendingApproval)
        };
        state.record("h1".into(), held("p1", PAYEE, "INV-1"));
        state.record("h2".into(), held("p2", OTHER_PAYEE, "INV-1"));
        state.record("h3".into(), held("p3", PAYEE, "INV-2"));
        state.record("h4".into(), held("p4", PAYEE, "INV-1"));
        let status = |s: &PayerState, h: &str| s.payments[h].status;
        assert_eq!(status(&state, "h1"), Status::Superseded);
        assert_eq!(
            status(&state, "h2"),
            Status::PendingApproval,
            "another payee's number"
        );
        assert_eq!(status(&state, "h3"), Status::PendingApproval);
        assert_eq!(status(&state, "h4"), Status::PendingApproval);
        // A superseded one is not superseded again, nor revived.
        state.record("h5".into(), held("p5", PAYEE, "INV-1"));
        assert_eq!(status(&state, "h1"), Status::Superseded);
        assert_eq!(status(&state, "h4"), Status::Superseded);

        assert!(!state.has_expired(DateTime::from_timestamp(999, 0).unwrap()));
        assert!(!state.expire(DateTime::from_timestamp(999, 0).unwrap()));
        assert!(state.has_expired(DateTime::from_timestamp(1_000, 0).unwrap()));
        assert!(state.expire(DateTime::from_timestamp(1_000, 0).unwrap()));
        assert_eq!(status(&state, "h5"), Status::Expired);
        assert_eq!(status(&state, "h1"), Status::Superseded);
    }

    #[test]
    fn pushes_and_grants_are_found_by_short_ids_and_invoice_numbers() {
        let mut state = PayerState::default();
        let mut a = payment(1, None, Status::PendingApproval);
        a.push_id = "aaaaaaaa11".into();
        a.invoice_number = "INV-7".into();
        let mut b = payment(1, None, Status::Rejected);
        b.push_id = "aaaaaaaa22".into();
        b.invoice_number = "INV-7".into();
        state.payments.insert("c0ffee00".into(), a);
        state.payments.insert("d0ffee00".into(), b);
        assert_eq!(state.find_payment("aaaaaaaa11").unwrap(), "c0ffee00");
        assert_eq!(state.find_payment("AAAAAAAA2").unwrap(), "d0ffee00");
        assert!(
            state
                .find_payment("aaaaaaaa")
                .unwrap_err()
                .to_string()
                .contains("2 pushes")
        );
        assert!(state.find_payment("aaaa").is_err(), "fewer than 8 digits");
        assert_eq!(state.find_payment("c0ffee00").unwrap(), "c0ffee00");
        // The invoice number names the one waiting.
        assert_eq!(state.find_payment("INV-7").unwrap(), "c0ffee00");
        assert!(
            state
                .find_payment("INV-8")
                .unwrap_err()
                .to_string()
                .contains("no push")
        );

        state.grants.push(grant(1, Window::Day));
        assert_eq!(state.find_grant("01234567").unwrap(), GRANT);
        assert!(state.find_grant("0123").is_err());
        assert!(state.find_grant("ffffffff").is_err());
    }

    #[test]
    fn the_state_is_saved_and_loaded_whole() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(PayerState::load(dir.path()).unwrap(), PayerState::default());
        let mut state = PayerState::default();
        state.grants.push(grant(5, Window::Week));
        state
            .payments
            .insert("h".into(), payment(5, Some(0), Status::Paying));
        state.save(dir.path()).unwrap();
        assert_eq!(PayerState::load(dir.path()).unwrap(), state);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(PayerState::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "readable by the owner only: {mode:o}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    fn connection(budget_msat: u64, window: BudgetWindow) -> NwcConnection {
        NwcConnection {
            id: "nwc_1".into(),
            name: Some("Shop".into()),
            wallet_secret: "11".repeat(32),
            wallet_pubkey: "22".repeat(32),
            client_pubkey: "33".repeat(32),
            relays: vec!["ws://127.0.0.1:1".into()],
            budget_msat,
            window,
            status: NwcStatus::Active,
            created_at: 0,
            revoked_at: None,
        }
    }

    #[test]
    fn budget_windows_are_calendar_windows_in_utc() {
        let t = at("2028-02-29T13:45:30Z");
        assert_eq!(
            BudgetWindow::Daily.start(t),
            at("2028-02-29T00:00:00Z").timestamp()
        );
        assert_eq!(
            BudgetWindow::Weekly.start(t),
            at("2028-02-28T00:00:00Z").timestamp()
        );
        assert_eq!(
            BudgetWindow::Monthly.start(t),
            at("2028-02-01T00:00:00Z").timestamp()
        );
        assert_eq!(
            BudgetWindow::Yearly.start(t),
            at("2028-01-01T00:00:00Z").timestamp()
        );
        assert_eq!(BudgetWindow::Never.start(t), 0);
    }

    /// A connection pays inside its budget per window, never a hash twice
    /// (whichever rail saw it first), and nothing once revoked.
    #[test]
    fn a_wallet_connection_pays_inside_its_budget_and_never_a_hash_twice() {
        let mut state = PayerState::default();
        let now = at("2028-03-10T10:00:00Z");
        state
            .nwc_connections
            .push(connection(10_000, BudgetWindow::Monthly));
        let inv = |hash: &str, amount_msat: u64| CheckedInvoice {
            grant: None,
            ..invoice(hash, amount_msat)
        };
        let month = BudgetWindow::Monthly.start(now);
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("h1", 6_000), "lnbcrt1", now),
            NwcDecision::Pay {
                window_start: month
            }
        );
        let p = &state.payments["h1"];
        assert_eq!(
            (p.status, p.nwc_id.as_deref(), p.window_start),
            (Status::Paying, Some("nwc_1"), Some(month))
        );
        // Paying counts against the budget; so does paid.
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("h2", 4_001), "lnbcrt1", now),
            NwcDecision::Refused(NwcRefusal::QuotaExceeded { left_msat: 4_000 })
        );
        assert!(!state.payments.contains_key("h2"));
        // Asked again while in flight: wait for it, never pay it again.
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("h1", 6_000), "lnbcrt1", now),
            NwcDecision::InFlight
        );
        state.payments.get_mut("h1").unwrap().status = Status::Paid;
        state.payments.get_mut("h1").unwrap().preimage = Some("ab".repeat(32));
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("h1", 6_000), "lnbcrt1", now),
            NwcDecision::Paid {
                preimage: "ab".repeat(32)
            }
        );
        assert_eq!(
            state.nwc_spent_and_left(&state.nwc_connections[0], now),
            (6_000, 4_000)
        );
        // Grants do not count a connection's spending, nor it theirs.
        state.grants.push(grant(10_000, Window::Month));
        assert_eq!(state.spent(GRANT, Window::Month.start(now)), 0);
        state
            .payments
            .insert("g1".into(), payment(9_000, Some(month), Status::Paid));
        assert_eq!(state.nwc_spent("nwc_1", month), 6_000);
        // A hash a push paid (no preimage kept) or holds is never paid here.
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("g1", 1), "lnbcrt1", now),
            NwcDecision::Refused(NwcRefusal::PaidWithoutPreimage)
        );
        state
            .payments
            .insert("held".into(), payment(1, None, Status::PendingApproval));
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("held", 1), "lnbcrt1", now),
            NwcDecision::Refused(NwcRefusal::Known(Status::PendingApproval))
        );
        // A payment of its own that failed gives its amount back and may be tried again.
        assert!(matches!(
            state.nwc_pay("nwc_1", &inv("h3", 4_000), "lnbcrt1", now),
            NwcDecision::Pay { .. }
        ));
        state.payments.get_mut("h3").unwrap().status = Status::Failed;
        assert_eq!(
            state.nwc_spent_and_left(&state.nwc_connections[0], now).1,
            4_000
        );
        assert!(matches!(
            state.nwc_pay("nwc_1", &inv("h3", 4_000), "lnbcrt1", now),
            NwcDecision::Pay { .. }
        ));
        assert_eq!(state.payments["h3"].status, Status::Paying);
        // The next month starts afresh; a `never` budget does not.
        let april = at("2028-04-01T00:00:00Z");
        assert!(matches!(
            state.nwc_pay("nwc_1", &inv("h4", 10_000), "lnbcrt1", april),
            NwcDecision::Pay { .. }
        ));
        state.nwc_connections[0].window = BudgetWindow::Never;
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("h5", 1), "lnbcrt1", april),
            NwcDecision::Pay { window_start: 0 }
        );
        assert_eq!(
            state.nwc_pay("nwc_1", &inv("h6", 10_000), "lnbcrt1", april),
            NwcDecision::Refused(NwcRefusal::QuotaExceeded { left_msat: 9_999 })
        );
        // Revoked, or unknown: nothing, not even a paid hash's preimage.
        state.nwc_connections[0].status = NwcStatus::Revoked;
        for id in ["nwc_1", "nwc_2"] {
            assert_eq!(
                state.nwc_pay(id, &inv("h1", 6_000), "lnbcrt1", now),
                NwcDecision::Refused(NwcRefusal::Unauthorized)
            );
        }
    }

    #[test]
    fn a_connection_keeps_its_secret_out_of_debug_output() {
        let c = connection(1, BudgetWindow::Daily);
        let shown = format!("{c:?}");
        assert!(!shown.contains(&c.wallet_secret), "{shown}");
        assert!(shown.contains(&c.wallet_pubkey));
    }

    /// A state file of a payer before grants: its allowances are dropped,
    /// its payments kept (they still guard against paying a hash twice).
    #[test]
    fn an_old_state_file_with_allowances_loads_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let old = serde_json::json!({
            "allowances": [{"payee": PAYEE, "max_msat": 5, "per": "month", "until": null}],
            "payments": {"h": {
                "push_id": "p", "payee": PAYEE, "peer": PAYEE, "amount_msat": 5,
                "bolt11": "", "merchant_name": "", "invoice_number": "1", "plan_name": null,
                "status": "paid", "window_start": 0, "received_at": 0, "reason": null
            }}
        });
        std::fs::write(PayerState::path(dir.path()), old.to_string()).unwrap();
        let state = PayerState::load(dir.path()).unwrap();
        assert!(state.grants.is_empty());
        assert_eq!(state.payments["h"].status, Status::Paid);
        state.save(dir.path()).unwrap();
        let saved = std::fs::read_to_string(PayerState::path(dir.path())).unwrap();
        assert!(!saved.contains("allowances"), "{saved}");
    }
}
