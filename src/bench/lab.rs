//! What the benches run on and throw away: a database (a SQLite file in the
//! temp folder, or a database created on a PostgreSQL server), and an
//! in-memory regtest chain with LDK nodes in temp folders.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sea_orm::DatabaseConnection;
use secrecy::SecretString;

use crate::store;
use ln_node::bitcoind::RpcAuth;
use ln_node::{Inboxes, Node, NodeConfig, PaymentSink};
use simnet::{Simnet, SimnetConfig};

/// A freshly migrated database, dropped (or deleted) by [`ThrowawayDb::drop`].
pub struct ThrowawayDb {
    pub db: DatabaseConnection,
    pub url: String,
    name: String,
    postgres_admin: Option<String>,
}

impl ThrowawayDb {
    /// A new database on the PostgreSQL server `postgres_admin` names, or a
    /// SQLite file; `connections` is the pool size on PostgreSQL.
    pub async fn create(postgres_admin: Option<&str>, connections: u32) -> anyhow::Result<Self> {
        let name = format!(
            "pushbill_bench_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let url = match postgres_admin {
            Some(admin) => store::create_postgres_database(admin, &name).await?,
            None => format!("sqlite://{}", Self::sqlite_file(&name).display()),
        };
        let db = store::connect(&url, connections).await?;
        store::migrate(&db).await?;
        Ok(Self {
            db,
            url,
            name,
            postgres_admin: postgres_admin.map(str::to_owned),
        })
    }

    fn sqlite_file(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("{name}.db"))
    }

    pub fn backend(&self) -> &'static str {
        if self.postgres_admin.is_some() {
            "postgresql"
        } else {
            "sqlite"
        }
    }

    pub async fn drop(self) -> anyhow::Result<()> {
        self.db.close().await?;
        match &self.postgres_admin {
            Some(admin) => store::drop_postgres_database(admin, &self.name).await?,
            None => {
                let file = Self::sqlite_file(&self.name);
                for suffix in ["", "-wal", "-shm", ".migrate-lock"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
            }
        }
        Ok(())
    }
}

/// An in-memory regtest chain (the simulator) and the nodes started on it,
/// each in a temp folder removed by [`Lab::shutdown`].
pub struct Lab {
    pub chain: Simnet,
    password: String,
    dirs: Vec<PathBuf>,
    nodes: Vec<Arc<Node>>,
}

impl Lab {
    pub async fn start() -> anyhow::Result<Self> {
        let password = hex::encode(rand::random::<[u8; 16]>());
        let chain = Simnet::start(SimnetConfig {
            listen: "127.0.0.1:0".parse().expect("loopback"),
            rpc_user: "bench".into(),
            rpc_password: SecretString::from(password.clone()),
            block_interval: None,
            data_dir: None,
        })
        .await
        .context("starting the chain simulator")?;
        Ok(Self {
            chain,
            password,
            dirs: Vec::new(),
            nodes: Vec::new(),
        })
    }

    /// A new node on this chain, peers on a free loopback port.
    pub async fn node(
        &mut self,
        sink: Arc<dyn PaymentSink>,
        inboxes: Inboxes,
    ) -> anyhow::Result<Arc<Node>> {
        let config = self.node_config()?;
        let node = Node::start_with_inboxes(config, sink, inboxes).await?;
        self.nodes.push(Arc::clone(&node));
        Ok(node)
    }

    /// The settings of a node on this chain (peers on a free loopback
    /// port), in a new temp folder removed at shutdown: for a node the
    /// caller starts and stops itself (a payer's).
    pub fn node_config(&mut self) -> anyhow::Result<NodeConfig> {
        let dir = std::env::temp_dir().join(format!(
            "pushbill_bench_node_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ));
        std::fs::create_dir_all(&dir)?;
        self.dirs.push(dir.clone());
        Ok(NodeConfig {
            data_dir: dir,
            listen: "127.0.0.1:0".parse().expect("loopback"),
            network: bitcoin::Network::Regtest,
            bitcoind: RpcAuth {
                url: self.chain.rpc_url(),
                user: "bench".into(),
                password: self.password.clone(),
            },
            chain_poll_interval: Duration::from_secs(1),
            reconnect_interval: Duration::from_secs(5),
            minimum_depth: 1,
        })
    }

    /// Stops every node and the chain, and removes the nodes' folders.
    pub async fn shutdown(self) {
        for node in &self.nodes {
            node.stop().await;
        }
        self.chain.shutdown().await;
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
