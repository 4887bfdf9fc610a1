//! NWC (NIP-47) spike for pushbill issue 16.
//!
//! One tokio program, everything on 127.0.0.1:
//!   1. an in-process relay (`nostr_sdk::local_relay::LocalRelay`, feature `local-relay`);
//!   2. a toy wallet service (answers `get_info`, `get_budget`, `pay_invoice`) built from
//!      nostr-sdk `Client` + nostr's NIP-47 types and `Nip47Ciphers` (no hand-written crypto);
//!   3. an `nwc::NostrWalletConnect` client calling `get_info` and `pay_invoice`;
//!   4. the relay stopped, a payment attempted while it is down, the relay started again on the
//!      same port, the client reconnecting and a payment going through, paid exactly once.
//!
//! Invoices are real BOLT11 strings made with `lightning::bolt11_invoice` (LDK 0.2) and signed
//! with `bitcoin::secp256k1` (0.29), so this also proves both secp256k1 majors link together.

use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bitcoin::hashes::{Hash as _, sha256};
use bitcoin::hex::{DisplayHex, FromHex};
use bitcoin::secp256k1::{Secp256k1, SecretKey as NodeSecretKey};
use lightning::bolt11_invoice::{Bolt11Invoice, Currency, InvoiceBuilder, PaymentSecret};
use nwc::prelude::*;
use serde_json::{Value, json};

type BoxError = Box<dyn StdError + Send + Sync>;

// ---------------------------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------------------------

fn make_invoice(node_sk: &NodeSecretKey, preimage: [u8; 32], msat: u64, memo: &str) -> Bolt11Invoice {
    let secp = Secp256k1::new();
    InvoiceBuilder::new(Currency::Regtest)
        .description(memo.to_string())
        .payment_hash(sha256::Hash::hash(&preimage))
        .payment_secret(PaymentSecret([7u8; 32]))
        .duration_since_epoch(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap())
        .min_final_cltv_expiry_delta(144)
        .amount_milli_satoshis(msat)
        .build_signed(|msg| secp.sign_ecdsa_recoverable(msg, node_sk))
        .expect("invoice builds")
}

/// What pushbill must do with a pay_invoice success: the preimage must hash to the invoice's
/// payment hash, otherwise the answer is worthless (the merchant's node is still the source of
/// truth for "paid").
fn preimage_matches(invoice: &Bolt11Invoice, preimage_hex: &str) -> bool {
    match <[u8; 32]>::from_hex(preimage_hex) {
        Ok(p) => sha256::Hash::hash(&p) == *invoice.payment_hash(),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Toy wallet service (the NIP-47 "server" side)
// ---------------------------------------------------------------------------------------------

struct ToyWallet {
    /// The wallet service's nostr keys (the pubkey is the host part of the NWC URI).
    keys: Keys,
    /// The one connection this wallet authorises (the pubkey of the URI's `secret`).
    allowed_client: PublicKey,
    /// payment hash -> preimage the "payment" yields.
    payable: HashMap<[u8; 32], [u8; 32]>,
    /// payment hashes answered with QUOTA_EXCEEDED.
    over_quota: HashSet<[u8; 32]>,
    /// payment hashes never answered (to show the client-side timeout).
    silent: HashSet<[u8; 32]>,
    /// idempotency: payment hash -> preimage hex of a payment already made.
    paid: Mutex<HashMap<[u8; 32], String>>,
    /// request event ids already handled (a relay can deliver an event twice after a resubscribe).
    seen: Mutex<HashSet<EventId>>,
    /// how many real "payments" went out.
    payments_made: AtomicUsize,
    /// payment hashes whose response is sent only after 1.5 s (to lose it in a relay outage).
    slow_response: HashSet<[u8; 32]>,
    /// payment hashes answered with an error code nostr 0.45 has no variant for.
    unknown_code: HashSet<[u8; 32]>,
}

fn nip47_error(method: Method, code: ErrorCode, message: &str) -> Response {
    Response {
        result_type: method,
        error: Some(NIP47Error { code, message: message.to_string() }),
        result: None,
    }
}

impl ToyWallet {
    fn info_event(&self) -> Result<Event, BoxError> {
        // kind 13194, replaceable: content = space-separated methods, `encryption` tag.
        Ok(EventBuilder::new(Kind::WalletConnectInfo, "pay_invoice get_info get_budget")
            .tag(Nip47Tag::Encryption(Nip47Ciphers::NIP44V2.add(Nip47Ciphers::NIP04)))
            .finalize(&self.keys)?)
    }

    fn pay(&self, params: PayInvoiceRequest) -> Option<Response> {
        let invoice = match Bolt11Invoice::from_str(&params.invoice) {
            Ok(i) => i,
            Err(_) => return Some(nip47_error(Method::PayInvoice, ErrorCode::Other, "bad invoice")),
        };
        let hash = invoice.payment_hash().to_byte_array();
        if self.silent.contains(&hash) {
            println!("  [wallet] pay_invoice {}…: staying silent", &hash.to_lower_hex_string()[..8]);
            return None;
        }
        if self.over_quota.contains(&hash) {
            println!("  [wallet] pay_invoice {}…: QUOTA_EXCEEDED", &hash.to_lower_hex_string()[..8]);
            return Some(nip47_error(
                Method::PayInvoice,
                ErrorCode::QuotaExceeded,
                "monthly budget of 1000 sat is used up",
            ));
        }
        let mut paid = self.paid.lock().unwrap();
        let preimage_hex = if let Some(p) = paid.get(&hash) {
            // A Lightning node refuses to pay a payment hash twice; a wallet service should answer
            // a repeated request with the earlier result instead of paying again.
            println!("  [wallet] pay_invoice {}…: already paid, returning the earlier preimage", &hash.to_lower_hex_string()[..8]);
            p.clone()
        } else {
            let Some(preimage) = self.payable.get(&hash) else {
                return Some(nip47_error(Method::PayInvoice, ErrorCode::PaymentFailed, "no route"));
            };
            let n = self.payments_made.fetch_add(1, Ordering::SeqCst) + 1;
            println!("  [wallet] pay_invoice {}…: PAID (payment #{n})", &hash.to_lower_hex_string()[..8]);
            let hex = preimage.to_lower_hex_string();
            paid.insert(hash, hex.clone());
            hex
        };
        Some(Response {
            result_type: Method::PayInvoice,
            error: None,
            result: Some(ResponseResult::PayInvoice(PayInvoiceResponse {
                preimage: preimage_hex,
                fees_paid: Some(0),
            })),
        })
    }

    /// Decrypt, dispatch, encrypt, publish. Returns Ok(()) also for requests it drops.
    async fn handle(&self, client: &Client, event: &Event) -> Result<(), BoxError> {
        if !self.seen.lock().unwrap().insert(event.id) {
            return Ok(()); // duplicate delivery
        }
        if event.pubkey != self.allowed_client {
            // Unknown connection. A real wallet answers UNAUTHORIZED (encrypted to that key).
            return Ok(());
        }
        if event.is_expired() {
            return Ok(()); // NIP-47: ignore requests received after their `expiration` tag
        }
        // Which cipher did the client use? `encryption` tag present -> that one, absent -> NIP-04.
        let cipher = event
            .tags
            .iter()
            .find_map(|t| match Nip47Tag::try_from(t).ok()? {
                Nip47Tag::Encryption(c) => Some(c),
            })
            .unwrap_or(Nip47Ciphers::NIP04);
        let plaintext = cipher.decrypt(self.keys.secret_key(), &event.pubkey, &event.content)?;

        // Parse by hand first: nostr's `Request` rejects methods it does not know (get_budget).
        let raw: Value = serde_json::from_str(&plaintext)?;
        let method = raw.get("method").and_then(Value::as_str).unwrap_or_default().to_string();
        let invoice_hash = raw
            .pointer("/params/invoice")
            .and_then(Value::as_str)
            .and_then(|i| Bolt11Invoice::from_str(i).ok())
            .map(|i| i.payment_hash().to_byte_array());
        let response_json: Option<String> = if invoice_hash.is_some_and(|h| self.unknown_code.contains(&h)) {
            println!("  [wallet] pay_invoice: answering UNSUPPORTED_ENCRYPTION (not in nostr's ErrorCode)");
            Some(
                json!({"result_type": "pay_invoice",
                       "error": {"code": "UNSUPPORTED_ENCRYPTION", "message": "use nip44_v2"}})
                .to_string(),
            )
        } else if method == "get_budget" {
            Some(
                json!({
                    "result_type": "get_budget",
                    "result": {"used_budget": 21_000, "total_budget": 1_000_000,
                               "renews_at": Timestamp::now().as_secs() + 86_400 * 30,
                               "renewal_period": "monthly"}
                })
                .to_string(),
            )
        } else {
            match Request::from_value(raw) {
                Ok(Request { params: RequestParams::GetInfo, .. }) => Some(
                    Response {
                        result_type: Method::GetInfo,
                        error: None,
                        result: Some(ResponseResult::GetInfo(GetInfoResponse {
                            alias: Some("toy-wallet".into()),
                            color: None,
                            pubkey: None,
                            network: Some("regtest".into()),
                            block_height: None,
                            block_hash: None,
                            methods: vec![
                                Method::PayInvoice,
                                Method::GetInfo,
                                Method::Unknown("get_budget".into()),
                            ],
                            notifications: vec![],
                        })),
                    }
                    .as_json(),
                ),
                Ok(Request { params: RequestParams::PayInvoice(p), .. }) => {
                    self.pay(p).map(|r| r.as_json())
                }
                Ok(other) => Some(
                    nip47_error(other.method, ErrorCode::NotImplemented, "not implemented").as_json(),
                ),
                Err(_) => Some(
                    json!({"result_type": method,
                           "error": {"code": "NOT_IMPLEMENTED", "message": "unknown method"}})
                    .to_string(),
                ),
            }
        };
        let Some(response_json) = response_json else { return Ok(()) };
        if let Ok(Request { params: RequestParams::PayInvoice(p), .. }) = Request::from_json(&plaintext) {
            if let Ok(inv) = Bolt11Invoice::from_str(&p.invoice) {
                if self.slow_response.contains(&inv.payment_hash().to_byte_array()) {
                    println!("  [wallet] holding the response for 1.5 s");
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
            }
        }

        // kind 23195: encrypted with the request's cipher, `p` = client, `e` = request id.
        let content = cipher.encrypt(self.keys.secret_key(), &event.pubkey, &response_json)?;
        let response = EventBuilder::new(Kind::WalletConnectResponse, content)
            .tag(Tag::public_key(event.pubkey))
            .tag(Tag::event(event.id))
            .finalize(&self.keys)?;
        client.send_event(&response).await?;
        Ok(())
    }
}

async fn run_wallet(wallet: Arc<ToyWallet>, relay_url: RelayUrl) -> Result<(), BoxError> {
    // The monitor tells us when the relay (re)connects, so the info event is (re)published: the
    // restarted in-process relay has a fresh in-memory database.
    let monitor = Monitor::new(64);
    let mut status = monitor.subscribe();
    let client = Client::builder().monitor(monitor).build();
    client
        .add_relay(&relay_url)
        .retry_interval(Duration::from_secs(1))
        .adjust_retry_interval(false)
        .and_connect()
        .await?;

    // Notifications before subscribing, or the first events can be missed.
    let mut notifications = client.notifications();
    let sub_id = SubscriptionId::new("nwc-requests");
    let filter = Filter::new()
        .kind(Kind::WalletConnectRequest)
        .pubkey(wallet.keys.public_key())
        .since(Timestamp::now());
    client.subscribe(filter).with_id(sub_id.clone()).await?;

    {
        let client = client.clone();
        let wallet = wallet.clone();
        tokio::spawn(async move {
            while let Ok(MonitorNotification::StatusChanged { relay_url, status }) = status.recv().await {
                println!("  [wallet] relay {relay_url} status: {status}");
                if status == RelayStatus::Connected {
                    if let Ok(info) = wallet.info_event() {
                        match client.send_event(&info).await {
                            Ok(_) => println!("  [wallet] published info event (kind 13194)"),
                            Err(e) => println!("  [wallet] info event not published: {e}"),
                        }
                    }
                }
            }
        });
    }

    while let Some(n) = notifications.next().await {
        if let ClientNotification::Event { subscription_id, event, .. } = n {
            if subscription_id != sub_id {
                continue;
            }
            let wallet = wallet.clone();
            let client = client.clone();
            tokio::spawn(async move {
                if let Err(e) = wallet.handle(&client, &event).await {
                    println!("  [wallet] request {} failed: {e}", event.id);
                }
            });
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Client side helpers (what pushbill would keep in its nwc module)
// ---------------------------------------------------------------------------------------------

/// The NIP-47 error code behind an `nwc::Error`, if the wallet answered with one.
///
/// nostr 0.45 turns `{"error":{"code":"QUOTA_EXCEEDED","message":"…"}}` into
/// `nostr::Error(Other, "<message> [QuotaExceeded]")` (Display of `NIP47Error`), wrapped by nwc as
/// `ErrorKind::Protocol`. The typed `ErrorCode` is not reachable through `source()`, so the
/// code is read back from the trailing `[…]`: the wallet controls the message, not the suffix.
fn nip47_code(err: &nwc::error::Error) -> Option<ErrorCode> {
    if err.kind() != nwc::error::ErrorKind::Protocol {
        return None;
    }
    let s = err.to_string();
    let inner = s.strip_suffix(']')?;
    let code = &inner[inner.rfind('[')? + 1..];
    Some(match code {
        "RateLimited" => ErrorCode::RateLimited,
        "NotImplemented" => ErrorCode::NotImplemented,
        "InsufficientBalance" => ErrorCode::InsufficientBalance,
        "PaymentFailed" => ErrorCode::PaymentFailed,
        "NotFound" => ErrorCode::NotFound,
        "QuotaExceeded" => ErrorCode::QuotaExceeded,
        "Restricted" => ErrorCode::Restricted,
        "Unauthorized" => ErrorCode::Unauthorized,
        "Internal" => ErrorCode::Internal,
        "Other" => ErrorCode::Other,
        _ => return None,
    })
}

/// A raw NIP-47 request over the nwc client's own relay connection, for methods nostr 0.45 has
/// no type for (`get_budget`) and to read `error.code` as a string (`UNSUPPORTED_ENCRYPTION`
/// is not in nostr's `ErrorCode`). Same checks as nwc 0.45.2's `send_request`.
async fn raw_request(
    nwc: &NostrWalletConnect,
    cipher: Nip47Ciphers,
    body: Value,
    timeout: Duration,
) -> Result<Value, BoxError> {
    let uri = nwc.uri();
    let client = nwc.client(); // relays were added by an earlier nwc call (bootstrap)
    let keys = Keys::new(uri.secret.clone());
    let content = cipher.encrypt(&uri.secret, &uri.public_key, &body.to_string())?;
    let mut builder =
        EventBuilder::new(Kind::WalletConnectRequest, content).tag(Tag::public_key(uri.public_key));
    if cipher == Nip47Ciphers::NIP44V2 {
        builder = builder.tag(Nip47Tag::Encryption(cipher));
    }
    let request = builder.finalize(&keys)?;
    let filter = Filter::new()
        .author(uri.public_key)
        .kind(Kind::WalletConnectResponse)
        .event(request.id);
    let mut stream = client
        .stream_events(filter)
        .timeout(timeout)
        .policy(ReqExitPolicy::WaitForEvents(1))
        .await?;
    client.send_event(&request).await?;
    let (_, res) = stream.next().await.ok_or("no response before the timeout")?;
    let event = res?;
    event.verify()?;
    if event.pubkey != uri.public_key || !event.tags.event_ids().any(|id| id == request.id) {
        return Err("unrelated response".into());
    }
    let plain = cipher.decrypt(&uri.secret, &event.pubkey, &event.content)?;
    Ok(serde_json::from_str(&plain)?)
}

fn redact(uri: &str) -> String {
    match uri.find("secret=") {
        Some(i) => format!("{}secret=<redacted>{}", &uri[..i], &uri[i + 7 + 64..]),
        None => uri.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let t0 = Instant::now();
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);

    // 1. Relay on loopback. No port given: LocalRelay picks a free random port (port 0 is not
    //    supported: the URL would say :0). Keep the port to restart on it.
    let relay = LocalRelay::builder().addr(loopback).build();
    relay.run().await?;
    let relay_url: RelayUrl = relay.url().await;
    let port = relay_url.as_str().rsplit(':').next().unwrap().trim_end_matches('/').parse::<u16>()?;
    println!("[{:>5.2}s] relay running at {relay_url} (port {port})", t0.elapsed().as_secs_f32());

    // 2. Keys, invoices, the connection URI the wallet would hand out.
    let wallet_keys = Keys::generate();
    let connection_keys = Keys::generate(); // the URI's `secret` (client side)
    let node_sk = NodeSecretKey::from_slice(&[0x42; 32])?;
    let inv_ok = make_invoice(&node_sk, [0x11; 32], 21_000, "period 1");
    let inv_quota = make_invoice(&node_sk, [0x22; 32], 5_000_000, "period 2 (over budget)");
    let inv_silent = make_invoice(&node_sk, [0x33; 32], 1_000, "never answered");
    let inv_restart = make_invoice(&node_sk, [0x44; 32], 21_000, "period 3 (relay restart)");
    let inv_lost = make_invoice(&node_sk, [0x55; 32], 21_000, "paid, response lost in outage");
    let inv_unknown = make_invoice(&node_sk, [0x66; 32], 1_000, "answered with an unknown code");
    let hash = |i: &Bolt11Invoice| i.payment_hash().to_byte_array();

    let uri_string = NostrWalletConnectUri::new(
        wallet_keys.public_key(),
        vec![relay_url.clone()],
        connection_keys.secret_key().clone(),
        None,
    )
    .to_string();
    println!("[{:>5.2}s] NWC URI: {}", t0.elapsed().as_secs_f32(), redact(&uri_string));

    let wallet = Arc::new(ToyWallet {
        keys: wallet_keys,
        allowed_client: connection_keys.public_key(),
        payable: HashMap::from([
            (hash(&inv_ok), [0x11; 32]),
            (hash(&inv_restart), [0x44; 32]),
            (hash(&inv_lost), [0x55; 32]),
        ]),
        over_quota: HashSet::from([hash(&inv_quota)]),
        silent: HashSet::from([hash(&inv_silent)]),
        paid: Mutex::new(HashMap::new()),
        seen: Mutex::new(HashSet::new()),
        payments_made: AtomicUsize::new(0),
        slow_response: HashSet::from([hash(&inv_lost)]),
        unknown_code: HashSet::from([hash(&inv_unknown)]),
    });
    tokio::spawn({
        let wallet = wallet.clone();
        let url = relay_url.clone();
        async move {
            if let Err(e) = run_wallet(wallet, url).await {
                println!("  [wallet] stopped: {e}");
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await; // let the wallet subscribe + publish info

    // 3. The nwc client, parsed from the URI as a subscriber would paste it.
    let uri = NostrWalletConnectUri::parse(&uri_string)?;
    let nwc = NostrWalletConnect::builder(uri)
        .timeout(Duration::from_secs(5))
        .relay(
            RelayOptions::new()
                .retry_interval(Duration::from_secs(1))
                .adjust_retry_interval(false),
        )
        .build();

    let info = nwc.get_info().await?;
    let methods: Vec<String> = info.methods.iter().map(|m| m.to_string()).collect();
    println!(
        "[{:>5.2}s] get_info: alias={:?} network={:?} methods={methods:?} -> can pay_invoice: {}",
        t0.elapsed().as_secs_f32(),
        info.alias,
        info.network,
        info.methods.contains(&Method::PayInvoice)
    );

    // get_budget is not in nwc 0.45 / nostr 0.45: raw request, same relay connection.
    let budget = raw_request(&nwc, Nip47Ciphers::NIP44V2, json!({"method":"get_budget","params":{}}), Duration::from_secs(5)).await?;
    println!("[{:>5.2}s] get_budget (raw, nip44_v2): {}", t0.elapsed().as_secs_f32(), budget["result"]);

    // pay_invoice: success, preimage checked against the payment hash.
    let res = nwc.pay_invoice(PayInvoiceRequest::new(inv_ok.to_string())).await?;
    println!(
        "[{:>5.2}s] pay_invoice ok: preimage={}… fees_paid={:?} sha256(preimage)==payment_hash: {}",
        t0.elapsed().as_secs_f32(),
        &res.preimage[..8],
        res.fees_paid,
        preimage_matches(&inv_ok, &res.preimage)
    );

    // pay_invoice: QUOTA_EXCEEDED, and how it looks in Rust.
    let err = nwc.pay_invoice(PayInvoiceRequest::new(inv_quota.to_string())).await.unwrap_err();
    println!(
        "[{:>5.2}s] pay_invoice over quota: kind={:?} display={:?} -> nip47_code={:?}",
        t0.elapsed().as_secs_f32(),
        err.kind(),
        err.to_string(),
        nip47_code(&err)
    );
    println!("          debug: {err:?}");
    let mut src = StdError::source(&err);
    while let Some(s) = src {
        println!("          source: {s:?}");
        src = s.source();
    }
    // The same error through the raw path: code as a string.
    let raw = raw_request(
        &nwc,
        Nip47Ciphers::NIP44V2,
        json!({"method":"pay_invoice","params":{"invoice": inv_quota.to_string()}}),
        Duration::from_secs(5),
    )
    .await?;
    println!("[{:>5.2}s] same over raw_request: error={}", t0.elapsed().as_secs_f32(), raw["error"]);

    // pay_invoice: an error code nostr 0.45's ErrorCode lacks.
    let err = nwc.pay_invoice(PayInvoiceRequest::new(inv_unknown.to_string())).await.unwrap_err();
    println!(
        "[{:>5.2}s] pay_invoice with UNSUPPORTED_ENCRYPTION: kind={:?} display={:?} nip47_code={:?}",
        t0.elapsed().as_secs_f32(),
        err.kind(),
        err.to_string(),
        nip47_code(&err)
    );

    // pay_invoice: wallet never answers -> timeout.
    let started = Instant::now();
    let err = nwc
        .pay_invoice(PayInvoiceRequest::new(inv_silent.to_string()))
        .timeout(Duration::from_secs(2))
        .await
        .unwrap_err();
    println!(
        "[{:>5.2}s] pay_invoice unanswered: after {:.1}s kind={:?} display={:?} nip47_code={:?}",
        t0.elapsed().as_secs_f32(),
        started.elapsed().as_secs_f32(),
        err.kind(),
        err.to_string(),
        nip47_code(&err)
    );

    // 4. Relay down. First a request the wallet receives and pays, but whose response is still
    //    unsent when the relay goes away: the client cannot know whether it was paid.
    let lost = tokio::spawn({
        let nwc = nwc.clone();
        let invoice = inv_lost.to_string();
        async move {
            let started = Instant::now();
            let r = nwc.pay_invoice(PayInvoiceRequest::new(invoice)).timeout(Duration::from_secs(4)).await;
            (started.elapsed(), r)
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    relay.shutdown();
    drop(relay);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = nwc.client().relay(&relay_url).await?.map(|r| r.status());
    println!("[{:>5.2}s] relay stopped; nwc client sees relay status {status:?}", t0.elapsed().as_secs_f32());

    let started = Instant::now();
    let res = nwc
        .pay_invoice(PayInvoiceRequest::new(inv_restart.to_string()))
        .timeout(Duration::from_secs(3))
        .await;
    match &res {
        Ok(r) => println!("[{:>5.2}s] pay_invoice while down: Ok?! preimage {}…", t0.elapsed().as_secs_f32(), &r.preimage[..8]),
        Err(e) => println!(
            "[{:>5.2}s] pay_invoice while down: after {:.1}s kind={:?} display={:?}",
            t0.elapsed().as_secs_f32(),
            started.elapsed().as_secs_f32(),
            e.kind(),
            e.to_string()
        ),
    }

    let (took, r) = lost.await?;
    match r {
        Ok(r) => println!("[{:>5.2}s] in-flight pay_invoice: Ok preimage {}…", t0.elapsed().as_secs_f32(), &r.preimage[..8]),
        Err(e) => println!(
            "[{:>5.2}s] in-flight pay_invoice (wallet paid, response lost): after {:.1}s kind={:?} display={:?}",
            t0.elapsed().as_secs_f32(),
            took.as_secs_f32(),
            e.kind(),
            e.to_string()
        ),
    }

    // 5. Relay up again on the same port (a new LocalRelay; its in-memory database is new).
    let relay = LocalRelay::builder().addr(loopback).port(port).build();
    relay.run().await?;
    println!("[{:>5.2}s] relay restarted at {}", t0.elapsed().as_secs_f32(), relay.url().await);
    nwc.client().connect().and_wait(Duration::from_secs(10)).await;
    let status = nwc.client().relay(&relay_url).await?.map(|r| r.status());
    println!("[{:>5.2}s] nwc client relay status after wait_for_connection: {status:?}", t0.elapsed().as_secs_f32());
    tokio::time::sleep(Duration::from_millis(1500)).await; // wallet: reconnect + resubscribe

    // The retry pushbill would make on its schedule (same invoice, new request event).
    let res = nwc.pay_invoice(PayInvoiceRequest::new(inv_restart.to_string())).await?;
    println!(
        "[{:>5.2}s] pay_invoice after restart: preimage={}… matches: {}",
        t0.elapsed().as_secs_f32(),
        &res.preimage[..8],
        preimage_matches(&inv_restart, &res.preimage)
    );
    // The in-flight one, retried: the wallet already paid it and must answer with that result.
    let res_lost = nwc.pay_invoice(PayInvoiceRequest::new(inv_lost.to_string())).await?;
    println!(
        "[{:>5.2}s] retry of the in-flight invoice: preimage={}… matches: {}",
        t0.elapsed().as_secs_f32(),
        &res_lost.preimage[..8],
        preimage_matches(&inv_lost, &res_lost.preimage)
    );
    // And once more: the wallet must not pay the same hash twice.
    let res2 = nwc.pay_invoice(PayInvoiceRequest::new(inv_restart.to_string())).await?;
    println!(
        "[{:>5.2}s] pay_invoice again (same hash): same preimage: {}",
        t0.elapsed().as_secs_f32(),
        res2.preimage == res.preimage
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "[{:>5.2}s] wallet made {} payments for 3 payable invoices (expect 3)",
        t0.elapsed().as_secs_f32(),
        wallet.payments_made.load(Ordering::SeqCst)
    );

    nwc.shutdown().await;
    relay.shutdown();
    println!("[{:>5.2}s] done", t0.elapsed().as_secs_f32());
    Ok(())
}
