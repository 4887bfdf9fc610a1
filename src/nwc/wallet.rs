//! A subscriber's wallet over NIP-47, through the `nwc` crate: checking a
//! connection when it is made, and asking the wallet to pay a BOLT11.
//!
//! The connection URI holds the client secret: it is parsed here from a
//! [`SecretString`] and never formatted (its `Display` prints the secret).

use std::time::Duration;

use nwc::prelude::{
    ErrorKind, EventBuilder, Filter, FinalizeEvent, Keys, Kind, Nip47Ciphers, Nip47Tag,
    NostrWalletConnect, NostrWalletConnectUri, PayInvoiceRequest, RelayOptions, ReqExitPolicy, Tag,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest as _;

use crate::ssrf;

/// How requests to a wallet are encrypted: chosen once, when the connection
/// is made, from the wallet's info event (NIP-44 v2 when it offers it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Nip44V2,
    Nip04,
}

impl Cipher {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Nip44V2 => "nip44_v2",
            Self::Nip04 => "nip04",
        }
    }

    pub fn parse(s: &str) -> Option<Cipher> {
        [Self::Nip44V2, Self::Nip04]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A connection's budget as the wallet reports it (NWC-13 `get_budget`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub total_msat: i64,
    pub used_msat: i64,
    /// `daily`, `weekly`, `monthly`, `yearly`, `never`, as the wallet said.
    pub renewal: Option<String>,
}

impl Budget {
    /// A `get_budget` result; `None` for an empty one (no budget set) or
    /// one that does not hold non-negative amounts.
    fn from_result(result: &serde_json::Value) -> Option<Budget> {
        let amount = |key: &str| {
            result
                .get(key)?
                .as_u64()
                .and_then(|v| i64::try_from(v).ok())
        };
        let renewal = result
            .get("renewal_period")
            .and_then(|r| r.as_str())
            .filter(|r| ["daily", "weekly", "monthly", "yearly", "never"].contains(r))
            .map(str::to_owned);
        Some(Budget {
            total_msat: amount("total_budget")?,
            used_msat: amount("used_budget").unwrap_or(0),
            renewal,
        })
    }
}

/// What a wallet said about itself when the connection was made.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The wallet service's public key, 64 hex digits.
    pub wallet_pubkey: String,
    pub relays: Vec<String>,
    pub cipher: Cipher,
    pub alias: Option<String>,
    pub methods: Vec<String>,
    /// Its answer to `get_budget`, when it offers it and has a budget.
    pub budget: Option<Budget>,
}

/// Why a connection was refused when it was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("not a nostr+walletconnect:// URI with a relay and a secret")]
    BadUri,
    #[error("the wallet did not answer get_info ({0})")]
    NoAnswer(String),
    #[error("the wallet cannot pay invoices over this connection (no pay_invoice)")]
    CannotPay,
    #[error("the wallet is on {wallet}, this deployment on {ours}")]
    WrongNetwork { wallet: String, ours: String },
    #[error("relay refused: {0}")]
    Relay(String),
}

/// Why a wallet did not pay. `reason()` is the name recorded on the push
/// attempt and in its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletError {
    /// The wallet answered with a NIP-47 error code (lowercase, e.g.
    /// `quota_exceeded`).
    Refused(&'static str),
    /// It answered success with a preimage that is not the payment hash's.
    BadPreimage,
    /// No answer in time, or the relay connection dropped while waiting:
    /// the wallet may have paid.
    Timeout,
    /// The request could not be sent (no relay connected): not paid.
    RelayUnavailable,
}

impl WalletError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Refused(code) => code,
            Self::BadPreimage => "bad_preimage",
            Self::Timeout => "timeout",
            Self::RelayUnavailable => "relay_unavailable",
        }
    }

    /// Worth trying again on the push schedule: the wallet did not answer,
    /// or asked us to slow down. Every other answer is final for this
    /// payment request (dunning asks again with the next one).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::RelayUnavailable | Self::Refused("rate_limited")
        )
    }
}

/// The NIP-47 error codes, by the name nostr 0.45 gives them in the text of
/// a protocol error ("<message> [QuotaExceeded]"), which is all the `nwc`
/// crate keeps of the code (docs/research/nwc.md, section 2).
const CODES: &[(&str, &str)] = &[
    ("RateLimited", "rate_limited"),
    ("NotImplemented", "not_implemented"),
    ("InsufficientBalance", "insufficient_balance"),
    ("PaymentFailed", "payment_failed"),
    ("NotFound", "not_found"),
    ("QuotaExceeded", "quota_exceeded"),
    ("Restricted", "restricted"),
    ("Unauthorized", "unauthorized"),
    ("Internal", "internal"),
    ("Other", "other"),
];

/// The reason for a failed request: the NIP-47 code when the wallet sent
/// one, else what went wrong on the way.
fn classify(error: &nwc::error::Error) -> WalletError {
    match error.kind() {
        ErrorKind::NoResponse => WalletError::Timeout,
        ErrorKind::Sdk => WalletError::RelayUnavailable,
        ErrorKind::Protocol => WalletError::Refused(code_of(&error.to_string())),
        _ => WalletError::Refused("other"),
    }
}

/// The code at the end of a protocol error's text; `other` for anything
/// else (an unknown code, such as UNSUPPORTED_ENCRYPTION, fails to parse).
fn code_of(text: &str) -> &'static str {
    text.strip_suffix(']')
        .and_then(|t| t.rfind('[').map(|at| &t[at + 1..]))
        .and_then(|name| CODES.iter().find(|(n, _)| *n == name))
        .map_or("other", |(_, code)| code)
}

fn parse_uri(uri: &SecretString) -> Result<NostrWalletConnectUri, ConnectError> {
    NostrWalletConnectUri::parse(uri.expose_secret().trim()).map_err(|_| ConnectError::BadUri)
}

fn relay_options() -> RelayOptions {
    RelayOptions::new()
        .retry_interval(Duration::from_secs(2))
        .adjust_retry_interval(false)
}

/// The NIP-47 name of a network, as `get_info` reports it.
pub fn network_name(network: bitcoin::Network) -> &'static str {
    match network {
        bitcoin::Network::Bitcoin => "mainnet",
        bitcoin::Network::Testnet | bitcoin::Network::Testnet4 => "testnet",
        bitcoin::Network::Signet => "signet",
        bitcoin::Network::Regtest => "regtest",
    }
}

/// Checks a connection as a subscriber makes it: asks `get_info` (or, when
/// the wallet refuses it as restricted or not implemented, reads the
/// methods of its info event), requires `pay_invoice` and (when the wallet
/// names one) the deployment's network, and reads the info event for the
/// cipher.
pub async fn check(
    uri: &SecretString,
    network: bitcoin::Network,
    timeout: Duration,
    allow_private_relays: bool,
) -> Result<Checked, ConnectError> {
    let parsed = parse_uri(uri)?;
    for relay in &parsed.relays {
        check_relay(relay.as_str(), allow_private_relays).await?;
    }
    let client = NostrWalletConnect::builder(parsed.clone())
        .timeout(timeout)
        .relay(relay_options())
        .build();
    let result = check_with(&client, &parsed, network, timeout).await;
    client.shutdown().await;
    result
}

/// A relay must be a public `wss://` address (the webhook sender's SSRF
/// guard), unless internal ones are allowed. Checked when the connection is
/// made; nostr-sdk resolves the name again when it connects.
async fn check_relay(relay: &str, allow_private: bool) -> Result<(), ConnectError> {
    let url = url::Url::parse(relay).map_err(|_| ConnectError::BadUri)?;
    match url.scheme() {
        "wss" => {}
        "ws" if allow_private => {}
        "ws" => {
            return Err(ConnectError::Relay(format!(
                "{} must use wss://",
                host(&url)
            )));
        }
        _ => return Err(ConnectError::BadUri),
    }
    let policy = ssrf::Policy {
        allow_private,
        allow_http: true,
    };
    ssrf::resolve(&url, policy)
        .await
        .map(drop)
        .map_err(|e| ConnectError::Relay(e.to_string()))
}

fn host(url: &url::Url) -> String {
    url.host_str()
        .unwrap_or_default()
        .chars()
        .take(100)
        .collect()
}

async fn check_with(
    client: &NostrWalletConnect,
    uri: &NostrWalletConnectUri,
    network: bitcoin::Network,
    timeout: Duration,
) -> Result<Checked, ConnectError> {
    let answered = client.get_info().timeout(timeout).await;
    // The wallet's info event (kind 13194): its ciphers, and its methods
    // for a wallet that refuses get_info on the connection (Primal does).
    // Read after get_info, which connects the client to the relays.
    let info_event = client
        .client()
        .fetch_events(
            Filter::new()
                .kind(Kind::WalletConnectInfo)
                .author(uri.public_key)
                .limit(1),
        )
        .max_events(1)
        .timeout(timeout)
        .await
        .ok()
        .and_then(|events| events.into_iter().next());
    let (alias, methods, wallet_network): (Option<String>, Vec<String>, Option<String>) =
        match (answered, &info_event) {
            (Ok(info), _) => (
                info.alias,
                info.methods.iter().map(|m| m.to_string()).collect(),
                info.network,
            ),
            (Err(e), event) => match (classify(&e), event) {
                (WalletError::Refused("restricted" | "not_implemented"), Some(event)) => {
                    let methods = event.content.split_whitespace().map(str::to_owned);
                    (None, methods.collect(), None)
                }
                (refused, _) => return Err(ConnectError::NoAnswer(refused.reason().to_owned())),
            },
        };
    if !methods.iter().any(|m| m == "pay_invoice") {
        return Err(ConnectError::CannotPay);
    }
    let ours = network_name(network);
    if let Some(wallet) = wallet_network.as_deref()
        && !wallet.eq_ignore_ascii_case(ours)
    {
        return Err(ConnectError::WrongNetwork {
            wallet: wallet.chars().take(20).collect(),
            ours: ours.to_owned(),
        });
    }
    let offered = info_event.and_then(|event| {
        event
            .tags
            .iter()
            .find_map(|t| match Nip47Tag::try_from(t).ok()? {
                Nip47Tag::Encryption(ciphers) => Some(ciphers),
            })
    });
    let cipher = match offered {
        Some(c) if c.has(Nip47Ciphers::NIP44V2) => Cipher::Nip44V2,
        _ => Cipher::Nip04,
    };
    let budget = match methods.iter().any(|m| m == "get_budget") {
        true => get_budget(client, uri, cipher, timeout).await,
        false => None,
    };
    Ok(Checked {
        budget,
        wallet_pubkey: uri.public_key.to_hex(),
        relays: uri.relays.iter().map(|r| r.to_string()).collect(),
        cipher,
        alias: alias.map(|a| a.chars().take(200).collect()),
        methods: methods
            .into_iter()
            .take(50)
            .map(|m| m.chars().take(40).collect())
            .collect(),
    })
}

/// Asks `get_budget` (NWC-13, which the `nwc` crate does not know) over the
/// client's relays with nostr's own NIP-47 ciphers; `None` when the wallet
/// has no budget, does not answer in time, or answers something else.
async fn get_budget(
    client: &NostrWalletConnect,
    uri: &NostrWalletConnectUri,
    cipher: Cipher,
    timeout: Duration,
) -> Option<Budget> {
    let ciphers = match cipher {
        Cipher::Nip44V2 => Nip47Ciphers::NIP44V2,
        Cipher::Nip04 => Nip47Ciphers::NIP04,
    };
    let body = r#"{"method":"get_budget","params":{}}"#.to_owned();
    let content = ciphers.encrypt(&uri.secret, &uri.public_key, &body).ok()?;
    let keys = Keys::new(uri.secret.clone());
    let mut request =
        EventBuilder::new(Kind::WalletConnectRequest, content).tag(Tag::public_key(uri.public_key));
    if cipher == Cipher::Nip44V2 {
        request = request.tag(Nip47Tag::Encryption(ciphers));
    }
    let request = request.finalize(&keys).ok()?;
    let answers = Filter::new()
        .author(uri.public_key)
        .kind(Kind::WalletConnectResponse)
        .event(request.id);
    let mut stream = client
        .client()
        .stream_events(answers)
        .timeout(timeout)
        .policy(ReqExitPolicy::WaitForEvents(1))
        .await
        .ok()?;
    client.client().send_event(&request).await.ok()?;
    let (_, answer) = futures::StreamExt::next(&mut stream).await?;
    let answer = answer.ok()?;
    answer.verify().ok()?;
    let ours = answer.tags.event_ids().any(|id| id == request.id);
    if answer.pubkey != uri.public_key || !ours {
        return None;
    }
    let plain = ciphers
        .decrypt(&uri.secret, &answer.pubkey, &answer.content)
        .ok()?;
    let response: serde_json::Value = serde_json::from_str(&plain).ok()?;
    Budget::from_result(response.get("result")?)
}

/// A client for one connection, kept while the connection is in use.
#[derive(Clone)]
pub struct Wallet {
    client: NostrWalletConnect,
}

impl Wallet {
    pub fn new(
        uri: &SecretString,
        cipher: Cipher,
        timeout: Duration,
    ) -> Result<Wallet, ConnectError> {
        let builder = NostrWalletConnect::builder(parse_uri(uri)?)
            .timeout(timeout)
            .relay(relay_options());
        let builder = match cipher {
            Cipher::Nip44V2 => builder.force_nip44_v2(),
            Cipher::Nip04 => builder.force_nip04(),
        };
        Ok(Wallet {
            client: builder.build(),
        })
    }

    /// Asks the wallet to pay `bolt11`; Ok once it answered with the
    /// preimage of `payment_hash`. (The invoice is paid when the merchant's
    /// node receives the money, not on this answer.)
    pub async fn pay(&self, bolt11: &str, payment_hash: &[u8; 32]) -> Result<(), WalletError> {
        let paid = self
            .client
            .pay_invoice(PayInvoiceRequest::new(bolt11))
            .await
            .map_err(|e| classify(&e))?;
        let preimage = hex::decode(paid.preimage.trim()).map_err(|_| WalletError::BadPreimage)?;
        match sha2::Sha256::digest(&preimage).as_slice() == payment_hash {
            true => Ok(()),
            false => Err(WalletError::BadPreimage),
        }
    }

    pub async fn shutdown(&self) {
        self.client.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `nwc` crate keeps a wallet's error code only in the text of the
    /// error: a version that words it differently must fail here.
    #[test]
    fn codes_are_read_from_the_end_of_the_protocol_error() {
        assert_eq!(
            code_of("monthly budget of 1000 sat is used up [QuotaExceeded]"),
            "quota_exceeded"
        );
        assert_eq!(
            code_of("no money [InsufficientBalance]"),
            "insufficient_balance"
        );
        assert_eq!(code_of("slow down [RateLimited]"), "rate_limited");
        assert_eq!(code_of("who are you [Unauthorized]"), "unauthorized");
        // The wallet's own brackets come first; the code is the last one.
        assert_eq!(
            code_of("[Unauthorized] said the wallet [QuotaExceeded]"),
            "quota_exceeded"
        );
        assert_eq!(
            code_of("unknown variant `UNSUPPORTED_ENCRYPTION`, expected one of …"),
            "other"
        );
        assert_eq!(code_of("[Bogus]"), "other");
        assert_eq!(code_of(""), "other");
    }

    #[test]
    fn a_budget_is_read_from_get_budget_and_an_empty_one_is_none() {
        let full = serde_json::json!({"used_budget": 21_000, "total_budget": 1_000_000,
            "renews_at": 1_798_898_931u64, "renewal_period": "monthly"});
        assert_eq!(
            Budget::from_result(&full),
            Some(Budget {
                total_msat: 1_000_000,
                used_msat: 21_000,
                renewal: Some("monthly".into())
            })
        );
        assert_eq!(
            Budget::from_result(&serde_json::json!({})),
            None,
            "no budget set"
        );
        for bad in [
            serde_json::json!({"total_budget": -5}),
            serde_json::json!({"total_budget": "100"}),
            serde_json::json!({"total_budget": u64::MAX}),
        ] {
            assert_eq!(Budget::from_result(&bad), None, "{bad}");
        }
        let odd = serde_json::json!({"total_budget": 5, "renewal_period": "fortnightly"});
        assert_eq!(Budget::from_result(&odd).unwrap().renewal, None);
    }

    #[test]
    fn only_silence_and_slow_down_are_retried() {
        assert!(WalletError::Timeout.is_retryable());
        assert!(WalletError::RelayUnavailable.is_retryable());
        assert!(WalletError::Refused("rate_limited").is_retryable());
        for final_code in [
            "quota_exceeded",
            "insufficient_balance",
            "unauthorized",
            "payment_failed",
        ] {
            assert!(
                !WalletError::Refused(final_code).is_retryable(),
                "{final_code}"
            );
        }
        assert!(!WalletError::BadPreimage.is_retryable());
    }

    #[test]
    fn a_bad_uri_is_refused_without_echoing_it() {
        for bad in [
            "",
            "https://example.com",
            "nostr+walletconnect://nothex?relay=wss%3A%2F%2Fr.example&secret=00",
            "nostr+walletconnect://3f82aba63f82aba63f82aba63f82aba63f82aba63f82aba63f82aba63f82aba6?secret=1111111111111111111111111111111111111111111111111111111111111111",
        ] {
            let err = parse_uri(&SecretString::from(bad)).unwrap_err();
            assert_eq!(err, ConnectError::BadUri);
            assert!(!err.to_string().contains("1111"));
        }
    }
}
