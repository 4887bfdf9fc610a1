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

/// [`binary`] as a path: a bare name is looked up on PATH.
fn executable() -> std::path::PathBuf {
    let name = binary();
    if name.contains('/') {
        return name.into();
    }
    std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(&name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| name.into())
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

/// Headless chromium driven over the DevTools protocol (chromiumoxide): a
/// page that types, clicks and follows forms like a person, records every
/// request it makes, and saves screenshots.
pub struct Chromium {
    browser: chromiumoxide::Browser,
    handler: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub async fn launch() -> Self {
        require_chromium().await;
        let profile = tempfile::tempdir().unwrap();
        let config = chromiumoxide::BrowserConfig::builder()
            .chrome_executable(executable())
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(1000, 900)
            .args([
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
            ])
            .launch_timeout(Duration::from_secs(60))
            .request_timeout(Duration::from_secs(30))
            .build()
            .expect("a browser configuration");
        let (browser, mut handler) = chromiumoxide::Browser::launch(config)
            .await
            .expect("chromium starts");
        let handler = tokio::spawn(async move {
            use futures::StreamExt;
            while handler.next().await.is_some() {}
        });
        Self {
            browser,
            handler,
            _profile: profile,
        }
    }

    /// A new tab at `url`, recording the URL of every request it sends.
    pub async fn open(&self, url: &str) -> Tab {
        use chromiumoxide::cdp::browser_protocol::network::EventRequestWillBeSent;
        use futures::StreamExt;
        let page = self.browser.new_page("about:blank").await.expect("a tab");
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut events = page
            .event_listener::<EventRequestWillBeSent>()
            .await
            .expect("network events");
        let seen = std::sync::Arc::clone(&requests);
        tokio::spawn(async move {
            while let Some(e) = events.next().await {
                seen.lock().unwrap().push(e.request.url.clone());
            }
        });
        let tab = Tab { page, requests };
        tab.goto(url).await;
        tab
    }

    pub async fn close(mut self) {
        let _ = self.browser.close().await;
        let _ = self.browser.wait().await;
        self.handler.abort();
    }
}

pub struct Tab {
    pub page: chromiumoxide::Page,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Tab {
    pub async fn goto(&self, url: &str) {
        self.page.goto(url).await.expect("the page loads");
        self.page
            .wait_for_navigation()
            .await
            .expect("the page loads");
    }

    pub async fn url(&self) -> String {
        self.page.url().await.unwrap().unwrap_or_default()
    }

    /// The page's HTML as the browser has it now.
    pub async fn html(&self) -> String {
        self.page.content().await.expect("the page's HTML")
    }

    /// Types `text` into the field matched by `selector` (after what it holds).
    pub async fn fill(&self, selector: &str, text: &str) {
        let field = self
            .page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"));
        field.click().await.unwrap();
        field.type_str(text).await.unwrap();
    }

    /// Clicks the button matched by `selector` and waits for the page it
    /// leads to.
    pub async fn submit(&self, selector: &str) {
        // A mark on the current document: gone once the next one has loaded.
        self.page
            .evaluate("window.__pushbillOld = true")
            .await
            .unwrap();
        self.page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
            .click()
            .await
            .unwrap();
        let loaded = "window.__pushbillOld === undefined && document.readyState === 'complete'";
        for _ in 0..200 {
            let done = self
                .page
                .evaluate(loaded)
                .await
                .ok()
                .and_then(|r| r.into_value::<bool>().ok())
                .unwrap_or(false);
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("clicking {selector} led to no new page within 20 s");
    }

    /// The text of the element matched by `selector`, `None` without one.
    pub async fn text(&self, selector: &str) -> Option<String> {
        let element = self.page.find_element(selector).await.ok()?;
        element
            .inner_text()
            .await
            .ok()
            .flatten()
            .map(|t| t.trim().to_owned())
    }

    /// Saves a full-page screenshot as `<dir>/<name>.png`.
    pub async fn screenshot(&self, dir: &std::path::Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let params = chromiumoxide::page::ScreenshotParams::builder()
            .full_page(true)
            .build();
        self.page
            .save_screenshot(params, dir.join(format!("{name}.png")))
            .await
            .expect("a screenshot");
    }

    /// Every URL the tab has requested so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
