//! Builds the application from settings and runs the roles it was asked for
//! until it is told to stop.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::billing;
use crate::clock::{SharedClock, SystemClock, TestClock};
use crate::config::{ClockMode, Role, Settings};
use crate::lightning::Node;
use crate::lightning::role::NodeRole;
use crate::notify;
use crate::store;
use crate::web::api::rate_limit::RateLimiter;

/// What every role and handler shares.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub clock: SharedClock,
    /// Set when the clock is the sandbox's test clock, which can be advanced.
    pub test_clock: Option<Arc<TestClock>>,
    pub settings: Arc<Settings>,
    /// The Lightning node, when this process runs the node role.
    pub node: Option<Arc<Node>>,
    /// Requests per API key, shared by every HTTP worker of this process.
    pub rate_limiter: Arc<RateLimiter>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("lightning node: {0:#}")]
    Node(anyhow::Error),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

pub struct Application {
    state: AppState,
    node_role: Option<NodeRole>,
    listener: Option<TcpListener>,
    port: u16,
}

impl Application {
    /// Connects to the database, applies pending migrations, sets up the clock
    /// and binds the HTTP listener (port 0 picks a free port).
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = store::connect(settings.database_url(), settings.database.max_connections).await?;
        store::migrate(&db).await?;
        let (clock, test_clock) = build_clock(&settings, &db).await?;
        let (listener, port) = if settings.has_role(Role::Web) {
            let address = format!("{}:{}", settings.http.host, settings.http.port);
            let listener = TcpListener::bind(&address)
                .map_err(|source| StartupError::Bind { address, source })?;
            let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
            (Some(listener), port)
        } else {
            (None, 0)
        };
        let mut state = AppState {
            db,
            clock,
            test_clock,
            rate_limiter: Arc::new(RateLimiter::new(&settings.api)),
            settings: Arc::new(settings),
            node: None,
        };
        let node_role = if state.settings.has_role(Role::Node) {
            let role = NodeRole::start(&state.settings, &state)
                .await
                .map_err(StartupError::Node)?;
            state.node = Some(Arc::clone(&role.node));
            Some(role)
        } else {
            None
        };
        Ok(Self {
            state,
            node_role,
            listener,
            port,
        })
    }

    /// The HTTP port, or 0 when this process does not run the web role.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Runs every configured role until `shutdown` is cancelled or a role fails.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let mut roles = tokio::task::JoinSet::new();
        if let Some(listener) = self.listener {
            let state = web::Data::new(self.state.clone());
            let server = HttpServer::new(move || {
                App::new()
                    .wrap(TracingLogger::default())
                    .app_data(state.clone())
                    .configure(crate::web::routes)
            })
            .listen(listener)?
            .disable_signals()
            .run();
            let handle = server.handle();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                stop.cancelled().await;
                handle.stop(true).await;
            });
            roles.spawn(async move { server.await.map(|_| "web") });
        }
        if self.state.settings.has_role(Role::Scheduler) {
            let state = self.state.clone();
            let stop = shutdown.clone();
            roles.spawn(async move {
                billing::scheduler::run(state, stop).await;
                Ok("scheduler")
            });
        }
        if self.state.settings.has_role(Role::Worker) {
            let state = self.state.clone();
            let stop = shutdown.clone();
            roles.spawn(async move {
                notify::run(state, stop).await;
                Ok("worker")
            });
        }
        if let Some(node_role) = self.node_role {
            let state = self.state.clone();
            let stop = shutdown.clone();
            roles.spawn(async move {
                node_role
                    .run(state, stop)
                    .await
                    .map(|()| "node")
                    .map_err(|e| std::io::Error::other(format!("{e:#}")))
            });
        }
        tracing::info!(port = self.port, roles = ?self.state.settings.app.roles, "pushbill running");
        // The first role to end (normally on shutdown) stops the others.
        let first = roles.join_next().await;
        shutdown.cancel();
        while roles.join_next().await.is_some() {}
        match first {
            Some(Ok(Ok(role))) => {
                tracing::info!(role, "stopped");
                Ok(())
            }
            Some(Ok(Err(e))) => Err(e),
            Some(Err(join)) => Err(std::io::Error::other(join)),
            None => Ok(()),
        }
    }
}

async fn build_clock(
    settings: &Settings,
    db: &DatabaseConnection,
) -> Result<(SharedClock, Option<Arc<TestClock>>), DbErr> {
    match settings.clock.mode {
        ClockMode::System => Ok((Arc::new(SystemClock), None)),
        ClockMode::Test => {
            // The persisted time wins, so a restart never moves time backwards.
            let start = match store::sandbox_clock::load(db).await? {
                Some(saved) => saved,
                None => {
                    let start = settings.clock.start.unwrap_or_else(chrono::Utc::now);
                    store::sandbox_clock::save(db, start).await?;
                    start
                }
            };
            let clock = Arc::new(TestClock::new(start));
            Ok((clock.clone(), Some(clock)))
        }
    }
}
