//! A real headless browser for the web pages: Debian's chromium, run once
//! per page with `--dump-dom` (the DOM after parsing, as the browser built
//! it). A test that needs it fails, saying how to install it, when it is
//! missing; `.ci/run` installs it.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// The browser binary: `PUSHBILL_TEST_CHROMIUM`, else `chromium` on PATH.
fn binary() -> String {
    std::env::var("PUSHBILL_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// Fails the test, with how to fix it, when chromium cannot run.
pub async fn require_chromium() {
    let ok = Command::new(binary())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "the web page tests need a real headless browser: Debian's chromium. \
         Install it with `apt-get install -y chromium` (.ci/run does), or point \
         PUSHBILL_TEST_CHROMIUM at a chromium binary."
    );
}

/// Loads `url` in headless chromium and returns the DOM it built.
pub async fn dump_dom(url: &str) -> String {
    require_chromium().await;
    let profile = tempfile::tempdir().unwrap();
    let run = Command::new(binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium answered within 90 s")
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed on {url}: {:?}",
        out.status
    );
    let dom = String::from_utf8(out.stdout).expect("a UTF-8 DOM");
    assert!(
        dom.contains("<html"),
        "chromium returned no page for {url}: {dom:?}"
    );
    dom
}

/// The text inside the element with this id (up to its first child tag),
/// `None` when the page has no such element.
pub fn text_of(dom: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let at = dom.find(&marker)?;
    let open_end = at + dom[at..].find('>')? + 1;
    let close = open_end + dom[open_end..].find('<')?;
    Some(dom[open_end..close].trim().to_owned())
}

/// The value of `attr` on the element with this id.
pub fn attr_of(dom: &str, id: &str, attr: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let at = dom.find(&marker)?;
    let start = dom[..at].rfind('<')?;
    let end = at + dom[at..].find('>')?;
    let tag = &dom[start..end];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    let len = tag[v..].find('"')?;
    Some(tag[v..v + len].to_owned())
}
