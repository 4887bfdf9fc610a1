//! The demo's payers: `pushbill payer` child processes of the running
//! binary (`std::env::current_exe`), and the payer commands the demo runs
//! against them (`subscribe`, `status`, `payments`, `grants`).
//!
//! A payer is started on a pipe for its standard input with
//! `--stop-with-stdin`, and killed when its [`Child`] is dropped: it ends
//! with the process that started it however that process ends (Ctrl-C,
//! shutdown, or killed outright, when the pipe closes).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::process::{Child, Command};

fn pushbill() -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("the pushbill binary")?;
    let mut command = Command::new(exe);
    command.kill_on_drop(true);
    Ok(command)
}

/// `pushbill payer run` for one subscriber on the sandbox of `data`, its
/// output in `dir/payer.log`.
pub fn spawn(data: &Path, dir: &Path, channel_sat: u64) -> anyhow::Result<Child> {
    let log = std::fs::File::create(dir.join("payer.log"))?;
    let child = pushbill()?
        .arg("payer")
        .arg("--data-dir")
        .arg(dir)
        .args(["run", "--listen", "127.0.0.1:0", "--stop-with-stdin"])
        .arg("--open-channel-sat")
        .arg(channel_sat.to_string())
        .arg("--sandbox")
        .arg(data)
        .env("PUSHBILL__LOG__FILTER", "warn")
        .stdin(Stdio::piped())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting a payer")?;
    Ok(child)
}

/// Runs `pushbill payer --data-dir DIR ARGS...` and returns its output.
pub async fn command(dir: &Path, args: &[String]) -> anyhow::Result<String> {
    let output = pushbill()?
        .arg("payer")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "payer {}: {}{}",
            args.join(" "),
            text,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(text)
}

/// A payer listing (`status`, `payments`, `grants list`) as JSON.
pub async fn json(dir: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.push("--json".into());
    let out = command(dir, &args).await?;
    serde_json::from_str(&out).with_context(|| format!("payer {}: {out}", args.join(" ")))
}

/// Polls a payer's JSON listing until `done` holds, for up to `limit`.
pub async fn wait_json(
    dir: &Path,
    args: &[&str],
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let until = tokio::time::Instant::now() + limit;
    loop {
        if let Ok(v) = json(dir, args).await
            && done(&v)
        {
            return Ok(v);
        }
        if tokio::time::Instant::now() > until {
            bail!("timed out after {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
