//! Builds the application from settings and runs the roles it was asked for
//! until it is told to stop.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use sea_orm::{DatabaseConnection, DbErr};
use tokio_util::sync::CancellationToken;
use tracing_actix_web::TracingLogger;

use crate::billing;
use crate::clock::{Clocks, SystemClock, TestClock};
use crate::config::{ClockMode, Role, Settings};
use crate::context::Context;
use crate::demo::runs::Runs;
use crate::node::role::NodeRole;
use crate::notify;
use crate::store;
use crate::web::WebState;
use crate::web::api::rate_limit::RateLimiter;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("lightning node: {0:#}")]
    Node(anyhow::Error),
    #[error(
        "app.network: this database belongs to a `{database}` deployment; refusing to start \
         it as `{configured}` (a live deployment needs its own database)"
    )]
    WrongNetwork {
        database: String,
        configured: &'static str,
    },
    #[error("nwc: {0}")]
    SealKey(#[from] crate::nwc::seal::SealError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

pub struct Application {
    context: Context,
    web: WebState,
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
        let configured = settings.app.network.as_str();
        let database =
            store::deployment_network::claim(&db, chrono::Utc::now(), configured).await?;
        if database != configured {
            return Err(StartupError::WrongNetwork {
                database,
                configured,
            });
        }
        let clocks = build_clocks(&settings, &db).await?;
        let (listener, port) = if settings.has_role(Role::Web) {
            let address = format!("{}:{}", settings.http.host, settings.http.port);
            let listener = TcpListener::bind(&address)
                .map_err(|source| StartupError::Bind { address, source })?;
            let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
            (Some(listener), port)
        } else {
            (None, 0)
        };
        let mut web = WebState {
            node: None,
            rate_limiter: Arc::new(RateLimiter::new(&settings.api)),
            demos: Arc::new(Runs::new(own_url(&settings.http.host, port))),
        };
        let seal = crate::nwc::seal::SealKey::load(&settings.nwc)?;
        let context = Context {
            db,
            clocks,
            seal,
            settings: Arc::new(settings),
        };
        let node_role = if context.settings.has_role(Role::Node) {
            let role = NodeRole::start(&context)
                .await
                .map_err(StartupError::Node)?;
            web.node = Some(Arc::clone(&role.node));
            Some(role)
        } else {
            None
        };
        Ok(Self {
            context,
            web,
            node_role,
            listener,
            port,
        })
    }

    /// The HTTP port, or 0 when this process does not run the web role.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `node_id@host:port` of this process's Lightning node, when it runs
    /// the node role.
    pub fn node_address(&self) -> Option<String> {
        self.node_role.as_ref().map(|role| {
            let mut listen = role.node.listen_addr();
            if listen.ip().is_unspecified() {
                listen.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("{}@{listen}", role.node.node_id())
        })
    }

    /// Whether this process runs the embedded chain simulator (the sandbox
    /// without `[bitcoind]`).
    /// The sandbox's nostr relay for wallet connections, when it runs one.
    pub fn sandbox_relay(&self) -> Option<&str> {
        self.node_role
            .as_ref()
            .and_then(|r| r.relay.as_ref())
            .map(|r| r.url.as_str())
    }

    pub fn runs_simnet(&self) -> bool {
        self.node_role.as_ref().is_some_and(|r| r.simnet.is_some())
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Runs every configured role until `shutdown` is cancelled or a role fails.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let mut roles = tokio::task::JoinSet::new();
        let demos = Arc::clone(&self.web.demos);
        if let Some(listener) = self.listener {
            let context = web::Data::new(self.context.clone());
            let web_state = web::Data::new(self.web.clone());
            let server = HttpServer::new(move || {
                App::new()
                    .wrap(crate::web::security_headers())
                    .wrap(TracingLogger::default())
                    .app_data(context.clone())
                    .app_data(web_state.clone())
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
        if self.context.settings.has_role(Role::Scheduler) {
            let context = self.context.clone();
            let stop = shutdown.clone();
            roles.spawn(async move {
                billing::scheduler::run(context, stop).await;
                Ok("scheduler")
            });
        }
        if self.context.settings.has_role(Role::Worker) {
            let context = self.context.clone();
            let stop = shutdown.clone();
            roles.spawn(async move {
                notify::run(context, stop).await;
                Ok("worker")
            });
        }
        if let Some(node_role) = self.node_role {
            let context = self.context.clone();
            let stop = shutdown.clone();
            roles.spawn(async move {
                node_role
                    .run(context, stop)
                    .await
                    .map(|()| "node")
                    .map_err(|e| std::io::Error::other(format!("{e:#}")))
            });
        }
        tracing::info!(port = self.port, roles = ?self.context.settings.app.roles, "pushbill running");
        // The first role to end (normally on shutdown) stops the others.
        let first = roles.join_next().await;
        shutdown.cancel();
        while roles.join_next().await.is_some() {}
        demos.shutdown().await;
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

/// This process's HTTP address as its own clients reach it (loopback when
/// it listens on every interface).
fn own_url(host: &str, port: u16) -> String {
    let host = match host {
        "0.0.0.0" | "::" | "[::]" | "" => "127.0.0.1",
        host if host.contains(':') && !host.starts_with('[') => {
            return format!("http://[{host}]:{port}");
        }
        host => host,
    };
    format!("http://{host}:{port}")
}

async fn build_clocks(settings: &Settings, db: &DatabaseConnection) -> Result<Clocks, DbErr> {
    match settings.clock.mode {
        ClockMode::System => Ok(Clocks::One(Arc::new(SystemClock))),
        ClockMode::Test => {
            // The persisted time wins, so a restart never moves time backwards.
            let deployment = store::sandbox_clock::DEPLOYMENT;
            let start = match store::sandbox_clock::load(db, deployment).await? {
                Some(saved) => saved,
                None => {
                    let start = settings.clock.start.unwrap_or_else(chrono::Utc::now);
                    store::sandbox_clock::save(db, deployment, start).await?;
                    start
                }
            };
            Ok(Clocks::Sandbox(Arc::new(TestClock::new(start))))
        }
    }
}
