//! A real webhook receiver on loopback for the tests: an actix-web server
//! that records every request and answers from a script (200 by default).
//! Signatures are checked by an implementation of the Standard Webhooks
//! verification written here from the specification, independent of the
//! service's signing code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::Semaphore;

/// How long a signed timestamp stays acceptable (the libraries' default).
const TOLERANCE_SECS: i64 = 5 * 60;

#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// What the receiver answered (0: it hung until the sender gave up).
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    /// Hold the request until the receiver's gate opens.
    pub hang: bool,
    /// The answer's body; `answer <status>` when `None`.
    pub body: Option<Vec<u8>>,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            retry_after: None,
            hang: false,
            body: None,
        }
    }

    /// `status` with these bytes as the body (binary, gzip, NUL bytes...).
    pub fn bytes(status: u16, body: &[u8]) -> Self {
        Self {
            body: Some(body.to_vec()),
            ..Self::status(status)
        }
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: VecDeque<Answer>,
    /// Requests being handled now, and the most there ever were.
    in_flight: usize,
    max_in_flight: usize,
    /// How long each answer takes (to widen the window for overlaps).
    delay: std::time::Duration,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    gate: Arc<Semaphore>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let gate = Arc::new(Semaphore::new(0));
        let (i, g) = (inner.clone(), gate.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new((i.clone(), g.clone())))
                .default_service(web::to(handle))
        })
        .workers(2)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind the receiver");
        let port = server.addrs()[0].port();
        tokio::spawn(server.run());
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            inner,
            gate,
        }
    }

    /// Answers for the next requests, in order; then 200s.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// Lets every hanging request go (they answer 200, if anyone still listens).
    pub fn open_gate(&self) {
        self.gate.add_permits(1_000_000);
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn set_delay(&self, delay: std::time::Duration) {
        self.inner.lock().unwrap().delay = delay;
    }

    /// The most requests this receiver ever had in hand at once.
    pub fn max_in_flight(&self) -> usize {
        self.inner.lock().unwrap().max_in_flight
    }

    pub fn count(&self) -> usize {
        self.inner.lock().unwrap().received.len()
    }
}

async fn handle(
    req: HttpRequest,
    body: web::Bytes,
    data: web::Data<(Arc<Mutex<Inner>>, Arc<Semaphore>)>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (answer, delay) = {
        let mut inner = data.0.lock().unwrap();
        inner.in_flight += 1;
        inner.max_in_flight = inner.max_in_flight.max(inner.in_flight);
        let answer = inner.script.pop_front().unwrap_or(Answer::status(200));
        inner.received.push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: body.to_vec(),
            answered: if answer.hang { 0 } else { answer.status },
        });
        (answer, inner.delay)
    };
    if answer.hang {
        let _ = data.1.acquire().await;
    }
    tokio::time::sleep(delay).await;
    data.0.lock().unwrap().in_flight -= 1;
    let mut res = HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answer.status).expect("a status"),
    );
    if let Some(ra) = &answer.retry_after {
        res.insert_header(("Retry-After", ra.as_str()));
    }
    match answer.body {
        Some(body) => res.body(body),
        None => res.body(format!("answer {}", answer.status)),
    }
}

/// Standard Webhooks verification: the message is authentic when one of the
/// space-separated `v1,` signatures is the HMAC-SHA256, keyed with the
/// base64-decoded part of the `whsec_` secret, of "{id}.{timestamp}.{body}",
/// and the timestamp is within the tolerance of now.
pub fn verify(secret: &str, msg: &Received) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
    else {
        return false;
    };
    let Ok(ts) = msg.timestamp.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - ts).abs() > TOLERANCE_SECS {
        return false;
    }
    let mut signed = format!("{}.{}.", msg.id, msg.timestamp).into_bytes();
    signed.extend_from_slice(&msg.body);
    msg.signature.split(' ').any(|sig| {
        let Some(b64) = sig.strip_prefix("v1,") else {
            return false;
        };
        let Ok(expected) = STANDARD.decode(b64) else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(&signed);
        // Constant-time comparison.
        mac.verify_slice(&expected).is_ok()
    })
}
