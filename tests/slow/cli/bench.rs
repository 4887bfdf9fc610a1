//! `pushbill bench billing|issue|api|pages|push` on tiny sizes: each runs to
//! the end on the test database's backend and prints its figure, its
//! same-run ceiling, the ratio and the load average; and the billing ceiling
//! writes what the billing engine writes. No timing is asserted.

use std::process::Command;

/// Runs the bench and checks it printed its figure, ceiling, ratio and load.
fn bench(args: &[&str]) -> String {
    let stdout = run(args);
    for label in ["figure: ", "ceiling: ", "ratio: ", "load average: "] {
        assert!(
            stdout.lines().any(|l| l.starts_with(label)),
            "no `{label}` line in:\n{stdout}"
        );
    }
    stdout
}

/// Runs `pushbill bench ARGS` on the tests' backend; its stdout.
fn run(args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushbill"));
    for (key, _) in std::env::vars() {
        if key.starts_with("PUSHBILL") {
            cmd.env_remove(key);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    cmd.current_dir(dir.path()).arg("bench").args(args);
    if let Ok(admin) = std::env::var("PUSHBILL_TEST_POSTGRES_URL")
        && !admin.is_empty()
    {
        cmd.args(["--postgres", &admin]);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stdout}\n{stderr}");
    stdout
}

fn backend() -> &'static str {
    match std::env::var("PUSHBILL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => "postgresql",
        _ => "sqlite",
    }
}

#[test]
fn bench_issue_issues_every_pending_request_and_prints_its_lines() {
    let out = bench(&["issue", "--requests", "30", "--runs", "2"]);
    let figure = out.lines().find(|l| l.starts_with("figure: ")).unwrap();
    assert!(
        figure.contains("30 pending payment requests")
            && figure.contains(backend())
            && figure.contains("30 in ")
            && figure.contains("median of 2 runs"),
        "{out}"
    );
    assert!(out.contains("recoverable secp256k1 signatures"), "{out}");
}

#[test]
fn bench_api_loads_both_endpoints_of_one_server_and_prints_its_lines() {
    let out = bench(&[
        "api",
        "--connections",
        "4",
        "--seconds",
        "0.3",
        "--runs",
        "1",
        "--customers",
        "5",
    ]);
    let figure = out.lines().find(|l| l.starts_with("figure: ")).unwrap();
    assert!(
        figure.contains("GET /v1/customers/{id}")
            && figure.contains(backend())
            && figure.contains("p99")
            && figure.contains("4 connections"),
        "{out}"
    );
    assert!(out.contains("GET /healthz on the same server"), "{out}");
}

#[test]
fn bench_pages_asks_every_dashboard_page_and_prints_each_against_the_target() {
    // Any answer but a 200 (a page that fails, or a sign-in redirect) stops
    // the bench with an error, so a success means every page rendered.
    let out = run(&["pages", "--subscriptions", "40", "--seconds", "0.2"]);
    assert!(
        out.contains(&format!(
            "one merchant with 40 subscriptions, {}",
            backend()
        )),
        "{out}"
    );
    for page in [
        "/dashboard ",
        "/dashboard/customers?q=customer20@",
        "/dashboard/subscriptions/sub_",
        "/dashboard/invoices?status=paid",
        "/dashboard/invoices/inv_",
        "/dashboard/sandbox",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(page))
            .unwrap_or_else(|| panic!("no line for {page} in:\n{out}"));
        assert!(line.ends_with("under") || line.ends_with("OVER"), "{line}");
    }
    for label in [
        "ceiling: GET /healthz",
        "pages over 50 ms at p99: ",
        "load average: ",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(label)),
            "no `{label}` in:\n{out}"
        );
    }
}

#[test]
fn bench_billing_runs_the_engine_and_its_ceiling_alternately_and_prints_its_lines() {
    let out = bench(&[
        "billing",
        "--subscriptions",
        "40",
        "--batch",
        "15",
        "--workers",
        "2",
        "--runs",
        "2",
    ]);
    let figure = out.lines().find(|l| l.starts_with("figure: ")).unwrap();
    assert!(
        figure.contains("billing run of 40 due subscriptions")
            && figure.contains(backend())
            && figure.contains("2 worker(s)")
            && figure.contains("40 invoices in ")
            && figure.contains("median of 2 runs"),
        "{out}"
    );
    let ceiling = out.lines().find(|l| l.starts_with("ceiling: ")).unwrap();
    assert!(
        ceiling.contains("set-based SQL")
            && ceiling.contains("40 invoices in ")
            && ceiling.contains("median of 2 runs"),
        "{out}"
    );
}

/// The ceiling is honest only if it writes what a billing run writes: on
/// two databases seeded alike, one billed by the engine (in batches, two
/// workers) and one by the ceiling's set-based SQL, every table ends with
/// the same number of rows, and so do the events of each type, the payment
/// requests to push, the subscriptions rolled into their next period and
/// the merchants' invoice counters.
#[tokio::test]
async fn the_billing_ceiling_writes_the_rows_the_billing_engine_writes() {
    use pushbill::bench::{billing, ceiling};
    use pushbill::billing::engine;
    let now = chrono::Utc::now();
    let mut tallies = Vec::new();
    let mut before = None;
    for by_ceiling in [false, true] {
        let database = crate::support::app::fresh_database().await;
        let db = pushbill::store::connect(&database.url, 3).await.unwrap();
        pushbill::store::migrate(&db).await.unwrap();
        let owners = billing::bench_merchants(&db, now, 2).await.unwrap();
        billing::seed_due(&db, now, &owners, 61).await.unwrap();
        let seeded = ceiling::tally(&db, now).await.unwrap();
        if by_ceiling {
            assert_eq!(ceiling::bill(&db, now).await.unwrap(), 61);
        } else {
            let outcome = engine::run_due_concurrently(&db, now, 20, 2, &engine::Scope::All)
                .await
                .unwrap();
            assert_eq!(outcome.periods_rolled, 61);
        }
        tallies.push(ceiling::tally(&db, now).await.unwrap());
        before.get_or_insert(seeded);
        db.close().await.unwrap();
    }
    let (before, engine, ceiling) = (before.unwrap(), &tallies[0], &tallies[1]);
    assert_eq!(engine, ceiling, "engine (left) and ceiling (right)");
    // The run wrote what it should, so equal tallies mean something.
    let grew = |what: &str| engine[what] - before.get(what).copied().unwrap_or(0);
    assert_eq!(grew("invoices"), 61, "{engine:?}");
    assert_eq!(grew("invoices: open"), 61);
    assert_eq!(grew("payment_requests"), 61);
    assert_eq!(grew("payment_requests: to push"), 31);
    assert_eq!(grew("events"), 122);
    assert_eq!(grew("events: subscription.updated"), 61);
    assert_eq!(grew("events: invoice.created"), 61);
    assert_eq!(grew("subscriptions: rolled past now"), 61);
    assert_eq!(grew("merchants: next invoice numbers"), 61);
    assert_eq!(grew("subscriptions"), 0);
}

/// The rate a `label` line of `out` gives before `unit`, e.g. 12 in
/// "figure: ...: 12 pushes/s, ...".
fn rate(out: &str, label: &str, unit: &str) -> f64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in:\n{out}"));
    let (before, _) = line
        .split_once(&format!(" {unit}"))
        .unwrap_or_else(|| panic!("no {unit} in {line}"));
    let number = before.rsplit(' ').next().unwrap();
    number
        .parse()
        .unwrap_or_else(|_| panic!("no number before {unit} in {line}"))
}

#[test]
fn bench_push_pushes_to_real_payers_and_pings_the_same_peers() {
    // The bench stops with an error unless every push was answered
    // `pending_approval` by its payer and every ping had its pong.
    let out = bench(&["push", "--peers", "5", "--pushes", "50", "--runs", "1"]);
    let figure = out.lines().find(|l| l.starts_with("figure: ")).unwrap();
    assert!(
        figure.contains("pushes replied by 5 subscriber nodes")
            && figure.contains("50 pushes")
            && figure.contains(backend())
            && figure.contains("50 replied pending_approval in ")
            && figure.contains("median of 1 runs"),
        "{out}"
    );
    assert!(rate(&out, "figure: ", "pushes/s") > 0.0, "{out}");
    assert!(
        out.contains("ceiling: bench_ping round trips to the same peers"),
        "{out}"
    );
    assert!(rate(&out, "ceiling: ", "round trips/s") > 0.0, "{out}");
    let ratio = out.lines().find(|l| l.starts_with("ratio: ")).unwrap();
    let percent: f64 = ratio["ratio: ".len()..]
        .split('%')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(percent > 0.0, "{out}");
}
