//! `pushbill demo` on a running sandbox, as a newcomer runs it: `serve` in a
//! fresh folder, then `demo --subscribers 6` beside it. Every subscriber is a
//! real `payer` child process on the sandbox chain, subscribed through the
//! handshake; the first invoices are paid. Then the merchant advances its
//! test clock a month, and each kind of subscriber does what its label says.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn pushbill(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushbill"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PUSHBILL") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .env("PUSHBILL__CLOCK__MODE", "test")
        .env("PUSHBILL__HTTP__PORT", "0")
        .env("PUSHBILL__LIGHTNING__LISTEN", "127.0.0.1:0")
        .env("PUSHBILL__LIGHTNING__SIMNET_BLOCK_INTERVAL_SECS", "1")
        .env("PUSHBILL__LOG__FILTER", "warn");
    cmd
}

/// Reads `child`'s stdout until a line contains `last`, for up to `limit`,
/// and then keeps reading it (a closed pipe would kill the child's next
/// print).
async fn lines_until(child: &mut Child, last: &'static str, limit: Duration) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stdout).lines();
        for line in reader.by_ref() {
            let line = line.unwrap_or_default();
            let done = line.contains(last);
            lines.push(line);
            if done {
                break;
            }
        }
        let _ = tx.send(lines);
        for _ in reader {}
    });
    tokio::time::timeout(limit, rx)
        .await
        .unwrap_or_else(|_| panic!("no line with {last:?} within {limit:?}"))
        .unwrap()
}

struct Api {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Each subscriber's (by its customer's email, `subscriber-NN@…`)
    /// subscription and invoices, oldest invoice first.
    async fn books(&self) -> Vec<(String, Value, Vec<Value>)> {
        let subs = self.get("/v1/subscriptions?limit=100").await;
        let invoices = self.get("/v1/invoices?limit=100").await;
        let mut books = Vec::new();
        for sub in subs["data"].as_array().unwrap() {
            let customer = self
                .get(&format!(
                    "/v1/customers/{}",
                    sub["customer"].as_str().unwrap()
                ))
                .await;
            let mut own: Vec<Value> = invoices["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["subscription"] == sub["id"])
                .cloned()
                .collect();
            own.reverse();
            let email = customer["email"].as_str().unwrap().to_owned();
            books.push((email, sub.clone(), own));
        }
        books.sort_by(|a, b| a.0.cmp(&b.0));
        books
    }
}

fn statuses(invoices: &[Value]) -> Vec<&str> {
    invoices
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_demo_shows_each_kind_of_subscriber_over_a_month_of_the_test_clock() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = pushbill(dir.path())
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let banner = lines_until(
        &mut serve,
        "pushbill listening on ",
        Duration::from_secs(60),
    )
    .await;
    let url = banner
        .last()
        .unwrap()
        .strip_prefix("pushbill listening on ")
        .unwrap()
        .to_owned();

    let mut demo = pushbill(dir.path())
        .args(["demo", "--subscribers", "6", "--url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = lines_until(&mut demo, "until Ctrl-C.", Duration::from_secs(300)).await;
    let text = out.join("\n");
    assert!(text.contains("Demo ready: 6 subscribers"), "{text}");
    for label in [
        "pays every month",
        "small channel: pays once, then fails",
        "goes offline after the first payment",
        "revokes its grant after the first payment",
        "streams 1,000 sat a minute for an hour",
        "grant ends after 20 days",
    ] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    let key = text
        .split_whitespace()
        .find(|w| w.starts_with("pb_test_"))
        .unwrap_or_else(|| panic!("no API key in:\n{text}"))
        .to_owned();
    let api = Api {
        http: reqwest::Client::new(),
        url: url.clone(),
        key,
    };

    // Ready means: every subscriber's first invoice is paid, the revoker's
    // subscription ends at its period's end.
    let books = api.books().await;
    assert_eq!(books.len(), 6, "{books:?}");
    for (email, sub, invoices) in &books {
        assert_eq!(statuses(invoices), ["paid"], "{email}");
        let revoker = email.starts_with("subscriber-04@");
        assert_eq!(sub["cancel_at_period_end"], revoker, "{email}: {sub}");
    }
    let stream = &books[4];
    assert_eq!(stream.2[0]["amount_msat"], 1_000_000, "{stream:?}");

    // A month later (and past the stream's hour).
    api.post(
        "/v1/test_clock/advance",
        serde_json::json!({"seconds": 31 * 86_400}),
    )
    .await;
    let until = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let books = api.books().await;
        let paid = |n: usize| statuses(&books[n].2).last() == Some(&"paid");
        let month = |n: usize| books[n].2.len() == 2;
        // The payer that pays, and the three that cannot: two invoices each,
        // the second paid only by the first.
        if month(0) && month(1) && month(2) && month(5) && paid(0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "a month on, not every subscriber was billed and the payer that pays did not pay: {books:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Give the ones that must not pay the time the paying one took, and more.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let books = api.books().await;
    assert_eq!(
        statuses(&books[0].2),
        ["paid", "paid"],
        "pays: {:?}",
        books[0]
    );
    assert_eq!(
        statuses(&books[1].2),
        ["paid", "open"],
        "small channel: {:?}",
        books[1]
    );
    assert_eq!(
        statuses(&books[2].2),
        ["paid", "open"],
        "offline: {:?}",
        books[2]
    );
    assert_eq!(books[3].1["status"], "canceled", "revoked: {:?}", books[3]);
    assert_eq!(books[3].2.len(), 1, "revoked: {:?}", books[3]);
    assert_eq!(
        statuses(&books[5].2),
        ["paid", "open"],
        "grant ended: {:?}",
        books[5]
    );
    // The stream billed once up to its hour, then once for each minute
    // from HH:00 to HH:58; its schedule's last fire (HH:59) ended it.
    assert_eq!(books[4].1["status"], "canceled", "stream: {:?}", books[4]);
    assert_eq!(
        books[4].2.len(),
        60,
        "stream: {} invoices",
        books[4].2.len()
    );
    let minutes = &books[4].2[1..];
    for (i, invoice) in minutes.iter().enumerate() {
        let start: chrono::DateTime<chrono::Utc> =
            invoice["period_start"].as_str().unwrap().parse().unwrap();
        let end: chrono::DateTime<chrono::Utc> =
            invoice["period_end"].as_str().unwrap().parse().unwrap();
        assert_eq!(end - start, chrono::Duration::minutes(1), "{invoice}");
        if i > 0 {
            assert_eq!(minutes[i - 1]["period_end"], invoice["period_start"]);
        }
    }

    // The held push: the subscriber whose grant ended has it pending.
    let demo_dir = std::fs::read_dir(dir.path().join("data/demo"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let pending = pushbill(dir.path())
        .arg("payer")
        .arg("--data-dir")
        .arg(demo_dir.join("subscriber-06"))
        .args(["pending", "--json"])
        .output()
        .unwrap();
    let pending: Value = serde_json::from_slice(&pending.stdout).unwrap();
    let second = books[5].2[1]["number"].as_str().unwrap();
    assert!(
        pending
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["invoice_number"] == second),
        "{second} is not held: {pending}"
    );

    // Ctrl-C stops the demo and its payers.
    let pid = demo.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = demo.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let left = Command::new("pgrep")
        .args(["-f", &demo_dir.display().to_string()])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "payers left running: {:?}", left);
    serve.kill().unwrap();
    serve.wait().unwrap();
}
