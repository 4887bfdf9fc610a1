//! The dashboard's "Start the demo subscribers": the demo ([`populate`])
//! for the signed-in merchant, on a background task of `serve` owned by the
//! web role's state (`WebState::demos`), never in the request.
//!
//! - One run per merchant: a second start is refused while one runs, after
//!   it ran, and (its subscribers' folder being there) after a restart.
//! - Its progress lines and outcome are kept for the Sandbox page.
//! - It talks to this process's own API with a key made for it ("Sandbox
//!   demo"), revoked once the run ends: the key is never shown.
//! - Its payers are children of `serve`: [`Runs::shutdown`] (when `serve`
//!   stops) ends the runs and kills them, and each payer also stops when
//!   its standard input, a pipe from `serve`, closes ([`super::payers`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Api, Subscriber, cast, folder, populate};
use crate::auth::api_keys::{self, Mode};
use crate::config::Network;
use crate::context::Context;

/// The most subscribers the button starts (the first six are one of each
/// kind, as `pushbill demo`'s).
pub const MAX_SUBSCRIBERS: usize = 12;

/// The demo runs of this process, one per merchant.
#[derive(Debug)]
pub struct Runs {
    /// This process's own API, e.g. `http://127.0.0.1:8080`.
    api_url: String,
    /// The runtime the runs are spawned on (`serve`'s, not a web worker's).
    runtime: tokio::runtime::Handle,
    stop: CancellationToken,
    runs: Mutex<HashMap<String, Run>>,
}

struct Run {
    lines: Vec<String>,
    state: State,
    /// The payers once the run is ready, kept running until shutdown.
    subscribers: Vec<Subscriber>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("state", &self.state)
            .field("subscribers", &self.subscribers.len())
            .finish()
    }
}

/// Where a merchant's run is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Running,
    /// Every subscriber's first invoice is paid; the payers run.
    Ready,
    Failed(String),
}

/// What the Sandbox page shows of a run.
#[derive(Debug, Clone)]
pub struct Progress {
    pub lines: Vec<String>,
    pub state: State,
}

/// Why the button does not start a run.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("the demo runs on the sandbox only")]
    NotSandbox,
    #[error(
        "the demo subscribers need the test clock: on wall time their second month would take \
         a month; start `pushbill serve` with PUSHBILL__CLOCK__MODE=test"
    )]
    NoTestClock,
    #[error("subscribers: 1 to {MAX_SUBSCRIBERS}")]
    Count,
    #[error("the demo subscribers of this account are already running or ran")]
    Started,
}

impl Runs {
    /// Runs on the current runtime, talking to the API at `api_url`.
    pub fn new(api_url: String) -> Self {
        Self {
            api_url,
            runtime: tokio::runtime::Handle::current(),
            stop: CancellationToken::new(),
            runs: Mutex::new(HashMap::new()),
        }
    }

    /// The merchant's run, if one was started in this process.
    pub fn progress(&self, merchant_id: &str) -> Option<Progress> {
        self.lock().get(merchant_id).map(|run| Progress {
            lines: run.lines.clone(),
            state: run.state.clone(),
        })
    }

    /// Ends every run and kills every payer (`serve` is stopping). Later
    /// starts are refused.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let (tasks, subscribers): (Vec<_>, Vec<_>) = {
            let mut runs = self.lock();
            runs.values_mut()
                .map(|run| (run.task.take(), std::mem::take(&mut run.subscribers)))
                .unzip()
        };
        // A run in progress drops (kills) its payers as its task ends.
        for task in tasks.into_iter().flatten() {
            let _ = task.await;
        }
        for mut subscriber in subscribers.into_iter().flatten() {
            subscriber.stop().await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Run>> {
        self.runs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn say(&self, merchant_id: &str, line: String) {
        if let Some(run) = self.lock().get_mut(merchant_id) {
            run.lines.push(line);
        }
    }

    fn finish(&self, merchant_id: &str, outcome: anyhow::Result<Vec<Subscriber>>) {
        let mut runs = self.lock();
        let Some(run) = runs.get_mut(merchant_id) else {
            return;
        };
        match outcome {
            Ok(subscribers) => {
                run.lines.push(format!(
                    "Demo ready: {} subscribers, each first invoice paid. Move the test clock \
                     and watch.",
                    subscribers.len()
                ));
                run.state = State::Ready;
                if !self.stop.is_cancelled() {
                    run.subscribers = subscribers;
                }
            }
            Err(e) => {
                tracing::warn!(merchant = merchant_id, error = %format!("{e:#}"), "demo failed");
                run.state = State::Failed(format!("{e:#}"));
            }
        }
    }
}

/// Starts the demo's plans and `subscribers` payers for the merchant on a
/// background task, and returns at once (its progress: [`Runs::progress`]).
pub fn start(
    state: &Context,
    runs: &Arc<Runs>,
    merchant_id: &str,
    subscribers: usize,
) -> Result<(), Refused> {
    if state.settings.app.network != Network::Sandbox {
        return Err(Refused::NotSandbox);
    }
    if state.clocks.test_clock().is_none() {
        return Err(Refused::NoTestClock);
    }
    if !(1..=MAX_SUBSCRIBERS).contains(&subscribers) {
        return Err(Refused::Count);
    }
    let runs = Arc::clone(runs);
    {
        let mut all = runs.lock();
        let ran_before = folder(&state.settings, merchant_id).exists();
        if runs.stop.is_cancelled() || all.contains_key(merchant_id) || ran_before {
            return Err(Refused::Started);
        }
        all.insert(
            merchant_id.to_owned(),
            Run {
                lines: vec![format!("starting {subscribers} subscribers")],
                state: State::Running,
                subscribers: Vec::new(),
                task: None,
            },
        );
    }
    let (db, settings) = (state.db.clone(), Arc::clone(&state.settings));
    let merchant = merchant_id.to_owned();
    let task = {
        let runs = Arc::clone(&runs);
        async move {
            let mut log = Lines {
                runs: &runs,
                merchant: &merchant,
                partial: Vec::new(),
            };
            let run = async {
                let key = api_keys::create(&db, Utc::now(), &merchant, "Sandbox demo", Mode::Test)
                    .await?;
                let api = Api::new(&runs.api_url, &key.secret);
                let outcome =
                    populate(&settings, &api, &merchant, &cast(subscribers), &mut log).await;
                if let Err(e) = api_keys::revoke(&db, Utc::now(), &merchant, &key.key.id).await {
                    tracing::warn!(merchant = %merchant, error = %e, "demo: its key stays");
                }
                outcome
            };
            tokio::select! {
                outcome = run => runs.finish(&merchant, outcome),
                () = runs.stop.cancelled() => {}
            }
        }
    };
    let handle = runs.runtime.spawn(task);
    if let Some(run) = runs.lock().get_mut(merchant_id) {
        run.task = Some(handle);
    }
    Ok(())
}

/// The run's log: each line written becomes a progress line.
struct Lines<'a> {
    runs: &'a Runs,
    merchant: &'a str,
    partial: Vec<u8>,
}

impl std::io::Write for Lines<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]).into_owned();
            self.runs.say(self.merchant, line);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
