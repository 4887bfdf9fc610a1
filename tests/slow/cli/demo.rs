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

/// A child process killed when dropped, so a failing test leaves no
/// `serve` or `demo` (and so no payer) running.
struct Running(Child);

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

/// `serve` started in `dir` (the sandbox, test clock), and its URL once it
/// listens.
async fn serve(dir: &std::path::Path) -> (Running, String) {
    let mut serve = Running(
        pushbill(dir)
            .arg("serve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
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
    (serve, url)
}

#[tokio::test]
async fn the_demo_shows_each_kind_of_subscriber_over_a_month_of_the_test_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (mut serve, url) = serve(dir.path()).await;

    let mut demo = Running(
        pushbill(dir.path())
            .args(["demo", "--subscribers", "6", "--url", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
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

    // Ctrl-C stops the demo and its payers (the five still running: the
    // offline one was stopped).
    let payers = payers_of(demo.id());
    assert_eq!(payers.len(), 5, "{payers:?}");
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
    all_gone(&payers).await;
    serve.kill().unwrap();
    serve.wait().unwrap();
}

/// The demo subscribers started from the dashboard's Sandbox page of a
/// `serve` on the test clock, for the signed-in merchant: the payers are
/// children of `serve`, the page shows the run's progress until every first
/// invoice is paid, the merchant's API has the subscriptions active; one
/// start per merchant, the form needs its CSRF token, another merchant sees
/// none of it, and the payers stop with `serve`, even a `serve` killed.
#[tokio::test]
async fn the_sandbox_pages_button_starts_the_demo_subscribers_for_the_signed_in_merchant() {
    use crate::support::browser::text_of;
    use crate::support::dashboard::Dashboard;

    let dir = tempfile::tempdir().unwrap();
    let (mut serve, url) = serve(dir.path()).await;

    let mut bob = Dashboard::at(&url);
    bob.sign_up("Bobflix", "bob@example.com").await;
    let page = bob.get("/dashboard/sandbox").await;
    assert!(page.has_id("demo-form"), "{}", page.body);
    assert!(page.has_id("start-demo"));
    assert!(!page.has_id("demo-log"));

    let no_csrf = bob
        .post_raw("/dashboard/sandbox/demo", &[("subscribers", "2")])
        .await;
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    let too_many = bob
        .post(
            "/dashboard/sandbox",
            "/dashboard/sandbox/demo",
            &[("subscribers", "13")],
        )
        .await;
    assert_eq!(too_many.status, 400, "{}", too_many.body);
    assert!(!bob.get("/dashboard/sandbox").await.has_id("demo-log"));

    let started = bob
        .post(
            "/dashboard/sandbox",
            "/dashboard/sandbox/demo",
            &[("subscribers", "2")],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    assert_eq!(started.location.as_deref(), Some("/dashboard/sandbox"));
    let again = bob
        .post(
            "/dashboard/sandbox",
            "/dashboard/sandbox/demo",
            &[("subscribers", "2")],
        )
        .await;
    assert_eq!(again.status, 409, "while it runs: {}", again.body);

    // The page shows the run until both subscribers' first invoices are paid.
    let running = bob.get("/dashboard/sandbox").await;
    assert!(running.has_id("demo-log"), "{}", running.body);
    let until = tokio::time::Instant::now() + Duration::from_secs(300);
    let page = loop {
        let page = bob.get("/dashboard/sandbox").await;
        assert!(!page.has_id("demo-failed"), "{}", page.body);
        let paid = page.body.matches("badge status-paid").count();
        if page.has_id("demo-ready") && paid == 2 {
            break page;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "the demo subscribers did not get ready: {}",
            page.body
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert!(page.has_id("subscribers"), "{}", page.body);
    assert_eq!(page.body.matches("<tr id=\"subscriber-").count(), 2);
    for line in [
        "starting 2 subscribers",
        "subscriber 01 ",
        "pays every month",
        "small channel: pays once, then fails",
        "subscriber 02: first invoice paid",
        "Demo ready: 2 subscribers",
    ] {
        assert!(page.body.contains(line), "{line:?} missing: {}", page.body);
    }
    assert!(!page.has_id("demo-form"));

    // The merchant's API: the two plans, both subscriptions active, each
    // with its paid first invoice.
    let created = bob
        .post(
            "/dashboard/developers",
            "/dashboard/developers/keys",
            &[("name", "Checking the demo")],
        )
        .await;
    let key = text_of(&created.body, "new-secret")
        .unwrap_or_else(|| panic!("no new key in {}", created.body));
    let api = Api {
        http: reqwest::Client::new(),
        url: url.clone(),
        key,
    };
    let plans = api.get("/v1/plans").await;
    assert_eq!(plans["data"].as_array().unwrap().len(), 2, "{plans}");
    let books = api.books().await;
    assert_eq!(books.len(), 2, "{books:?}");
    for (email, sub, invoices) in &books {
        assert_eq!(sub["status"], "active", "{email}: {sub}");
        assert_eq!(statuses(invoices), ["paid"], "{email}");
    }
    assert_eq!(books[0].0, "subscriber-01@example.com");
    // The key the run used is revoked once it ended.
    let keys = bob.get("/dashboard/developers").await.body;
    let demo_key = keys
        .split("<tr id=")
        .find(|row| row.contains("Sandbox demo"))
        .unwrap_or_else(|| panic!("no Sandbox demo key in {keys}"));
    assert!(demo_key.contains("revoked"), "{demo_key}");

    let after = bob
        .post(
            "/dashboard/sandbox",
            "/dashboard/sandbox/demo",
            &[("subscribers", "2")],
        )
        .await;
    assert_eq!(after.status, 409, "after it ran: {}", after.body);

    // Another merchant sees none of it, and may start its own.
    let mut alice = Dashboard::at(&url);
    alice.sign_up("Alicetv", "alice@example.com").await;
    let theirs = alice.get("/dashboard/sandbox").await;
    assert!(theirs.has_id("demo-form"), "{}", theirs.body);
    assert!(!theirs.has_id("demo-log"));
    assert!(!theirs.has_id("subscribers"));
    assert!(theirs.has_id("no-invoices"), "{}", theirs.body);

    // The payers are children of `serve`, and stop with it, even when it
    // is killed outright (no shutdown runs: their standard input closes).
    let payers = payers_of(serve.id());
    assert_eq!(payers.len(), 2, "{payers:?}");
    serve.kill().unwrap();
    serve.wait().unwrap();
    all_gone(&payers).await;
}

/// The `payer run` child processes of `parent`.
fn payers_of(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let (Ok(stat), Ok(cmdline)) = (
            std::fs::read_to_string(entry.path().join("stat")),
            std::fs::read(entry.path().join("cmdline")),
        ) else {
            continue;
        };
        // pid (comm) state ppid ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let payer_run = args.iter().any(|a| *a == b"payer") && args.iter().any(|a| *a == b"run");
        if ppid == Some(parent) && payer_run {
            pids.push(pid);
        }
    }
    pids
}

/// Waits (up to 10 s) until none of `pids` runs (gone, or a zombie no one
/// reaped).
async fn all_gone(pids: &[u32]) {
    let running = || {
        pids.iter()
            .copied()
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().next())
                        .is_some_and(|state| state != "Z" && state != "X")
                })
            })
            .collect::<Vec<_>>()
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while !running().is_empty() {
        assert!(
            tokio::time::Instant::now() < until,
            "payers left running: {:?}",
            running()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
