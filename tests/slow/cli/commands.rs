//! The `pushbill` binary as a newcomer runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn pushbill() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pushbill"));
    // Only the variables each test sets.
    for (key, _) in std::env::vars() {
        if key.starts_with("PUSHBILL") {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[test]
fn a_bad_config_value_stops_start_up_with_one_line_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = pushbill()
        .current_dir(dir.path())
        .args(["serve"])
        .env("PUSHBILL__HTTP__PORT", "abc")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("`http.port`") && stderr.contains("PUSHBILL__HTTP__PORT"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "nothing is created on a bad config"
    );
}

#[test]
fn an_unknown_key_in_a_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[scheduler]\nbatchsize = 10\n").unwrap();
    let output = pushbill()
        .current_dir(dir.path())
        .arg("--config")
        .arg(&file)
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("batchsize"), "{stderr}");
}

/// `pushbill serve` on a fresh checkout: creates ./data, migrates, answers /healthz.
#[tokio::test]
async fn serve_on_a_fresh_folder_creates_the_database_and_is_healthy() {
    let dir = tempfile::tempdir().unwrap();
    // Free ports for HTTP and the node: the defaults (8080, 9735) may be
    // taken on a shared machine; everything else is the default.
    let mut child = pushbill()
        .current_dir(dir.path())
        .arg("serve")
        .env("PUSHBILL__HTTP__PORT", "0")
        .env("PUSHBILL__LIGHTNING__LISTEN", "127.0.0.1:0")
        .env("PUSHBILL__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The banner: where things are, up to "Stop with Ctrl-C."
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let mut stdout = BufReader::new(stdout);
        while lines.last().is_none_or(|l: &String| !l.contains("Ctrl-C")) {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            lines.push(line.trim_end().to_owned());
        }
        lines
    });
    let banner = tokio::time::timeout(Duration::from_secs(60), banner)
        .await
        .expect("started")
        .unwrap();
    if banner.is_empty() {
        let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
        panic!("serve printed no banner: {log}");
    }
    let line = &banner[0];
    let address = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(address.starts_with("http://127.0.0.1:"), "{line}");
    let text = banner.join("\n");
    for expected in [
        "SANDBOX: play money on the regtest chain simulator in this process".to_owned(),
        format!(
            "Dashboard  {address}/dashboard  (first time: sign up at {address}/dashboard/signup)"
        ),
        format!("API        {address}/v1"),
        "Payers     pushbill payer run --sandbox ./data --open-channel-sat 500000".to_owned(),
    ] {
        assert!(text.contains(&expected), "{expected:?} not in:\n{text}");
    }
    let response = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(dir.path().join("data/pushbill.db").exists());
    // The sandbox's own nostr relay, for wallet connections: it stores and
    // serves an event.
    let relay = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Relay"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("a Relay line in:\n{text}"))
        .to_owned();
    assert!(relay.starts_with("ws://127.0.0.1:"), "{relay}");
    {
        use nwc::prelude::*;
        let keys = Keys::generate();
        let client = Client::default();
        client
            .add_relay(relay.as_str())
            .and_connect()
            .await
            .unwrap();
        let note = EventBuilder::new(Kind::TextNote, "hello")
            .finalize(&keys)
            .unwrap();
        client
            .send_event(&note)
            .await
            .expect("the relay takes an event");
        let found = client
            .fetch_events(Filter::new().author(keys.public_key()))
            .timeout(Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(
            found.into_iter().map(|e| e.id).collect::<Vec<_>>(),
            vec![note.id]
        );
        client.shutdown().await;
    }
    // A payer's wallet connection finds that relay through the sandbox's folder.
    let made = pushbill()
        .current_dir(dir.path())
        .args(["payer", "--data-dir", "./subscriber", "nwc", "new"])
        .args(["--budget-sat", "1000", "--sandbox", "./data", "--json"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let made: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let uri = url::Url::parse(made["uri"].as_str().unwrap()).unwrap();
    let relays: Vec<String> = uri
        .query_pairs()
        .filter(|(k, _)| k == "relay")
        .map(|(_, v)| v.trim_end_matches('/').to_owned())
        .collect();
    assert_eq!(relays, vec![relay.clone()]);
    let status = pushbill()
        .current_dir(dir.path())
        .args(["migrate", "status"])
        .output()
        .unwrap();
    let status = String::from_utf8(status.stdout).unwrap();
    assert!(
        !status.is_empty() && status.lines().all(|l| l.starts_with("applied ")),
        "{status}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Processes that start together on a fresh database (several `pushbill
/// serve` sharing PostgreSQL) migrate one after another instead of racing.
#[tokio::test]
async fn three_processes_migrating_one_fresh_database_at_once_all_succeed() {
    let database = crate::support::app::fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            pushbill()
                .current_dir(dir.path())
                .args(["migrate", "up"])
                .env("PUSHBILL__DATABASE__URL", &database.url)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{} on {}: {stderr}",
            output.status,
            database.backend
        );
    }
    let status = pushbill()
        .current_dir(dir.path())
        .args(["migrate", "status"])
        .env("PUSHBILL__DATABASE__URL", &database.url)
        .output()
        .unwrap();
    let status = String::from_utf8(status.stdout).unwrap();
    assert!(
        !status.is_empty() && status.lines().all(|l| l.starts_with("applied ")),
        "{status}"
    );
}

/// `pushbill payer` keeps its grants and pushes in its own folder and works
/// without a database or a running node: listings for people and `--json`,
/// refusals naming what is wrong.
#[test]
fn payer_commands_work_on_the_payers_folder_without_a_node() {
    let dir = tempfile::tempdir().unwrap();
    let payer = |args: &[&str]| {
        let output = pushbill()
            .current_dir(dir.path())
            .arg("payer")
            .args(["--data-dir", "wallet"])
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (code, out, err) = payer(&["grants", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("No grants"), "{out}");
    let (_, out, _) = payer(&["grants", "list", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!([])
    );
    let (_, out, _) = payer(&["pending", "--json"]);
    assert_eq!(out.trim(), "[]");
    let (_, out, _) = payer(&["pending"]);
    assert!(out.contains("Nothing waits for approval"), "{out}");

    let (code, _, err) = payer(&["approve", "00"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no push 00"), "{err}");
    let (code, _, err) = payer(&["grants", "revoke", "0123456789abcdef"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no grant 0123456789abcdef"), "{err}");
    let (code, _, err) = payer(&["pay", "lnbcrt1notaninvoice"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not a BOLT11 invoice"), "{err}");
    // Subscribing needs the running payer's node.
    let (code, _, err) = payer(&["subscribe", "abc@02aa@127.0.0.1:1", "--yes"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("pushbill payer run"), "{err}");
    let (code, out, err) = payer(&["status"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("not running"), "{out}");
    let (_, out, _) = payer(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["running"], false);
    // The sandbox's chain file is required to join it.
    let (code, _, err) = payer(&["run", "--sandbox", "nowhere"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nowhere/sandbox/chain.json"), "{err}");
}

/// A newcomer's sandbox: `pushbill serve` shares its chain in
/// data/sandbox/chain.json (owner-only), and `pushbill payer run --sandbox
/// ./data --open-channel-sat N` joins it with that one command: it connects
/// to the sandbox's node and opens a channel that becomes usable.
#[tokio::test]
async fn a_payer_joins_the_running_sandbox_with_one_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = pushbill()
        .current_dir(dir.path())
        .arg("serve")
        .env("PUSHBILL__HTTP__PORT", "0")
        .env("PUSHBILL__LIGHTNING__LISTEN", "127.0.0.1:0")
        .env("PUSHBILL__LIGHTNING__SIMNET_BLOCK_INTERVAL_SECS", "1")
        .env("PUSHBILL__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let file = dir.path().join("data/sandbox/chain.json");
    crate::support::ln::wait_for("the sandbox's chain file", || async { file.exists() }).await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let chain: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let merchant = chain["merchant_node"].as_str().unwrap().to_owned();
    let merchant_id = merchant.split('@').next().unwrap().to_owned();
    assert!(
        chain["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let mut payer = pushbill()
        .current_dir(dir.path())
        .args([
            "payer",
            "run",
            "--sandbox",
            "./data",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--open-channel-sat", "100000"])
        .env("PUSHBILL__LOG__FILTER", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = payer.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .take(3)
            .map(|l| l.unwrap())
            .collect::<Vec<_>>()
    });
    let lines = tokio::time::timeout(Duration::from_secs(60), lines)
        .await
        .expect("the payer started")
        .unwrap();
    assert!(lines[0].starts_with("payer node "), "{lines:?}");
    assert_eq!(lines[1], format!("connected to {merchant}"));
    assert!(
        lines[2].starts_with(&format!(
            "opening a channel of 100,000 sat to {} ",
            &merchant_id[..8]
        )),
        "{lines:?}"
    );

    let status = || {
        let output = pushbill()
            .current_dir(dir.path())
            .args(["payer", "status", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap_or_default()
    };
    crate::support::ln::wait_for("a usable channel to the sandbox's node", || async {
        status()["node"]["channels"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["state"] == "usable" && c["peer"] == merchant_id.as_str())
        })
    })
    .await;
    let status = status();
    assert_eq!(status["running"], true);
    assert_eq!(status["node"]["network"], "regtest");

    payer.kill().unwrap();
    payer.wait().unwrap();
    serve.kill().unwrap();
    serve.wait().unwrap();
}
