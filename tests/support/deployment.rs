//! A pushbill deployment with a real LDK node on the chain simulator, and
//! subscribers' payers with channels to it, for the push and consent tests:
//! the merchant's node answers the subscribe handshake and grant ends (the
//! node role's grant service), issues BOLT11s and pushes them when a test
//! runs a round.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lightning::types::payment::PaymentHash;
use ln_node::{Inboxes, Node, PaymentSink, Verdict};
use payer::{Payer, PayerOptions};
use pushbill::billing::payments;
use pushbill::catalog::{self, customers::NewCustomer};
use pushbill::domain::{NodeAddress, NodeId};
use pushbill::node::grants::{self as grant_service, GrantService};
use pushbill::node::issuer::{BillingSink, NodeIssuer};
use pushbill::node::push_sender::{PushPolicy, PushSender};
use pushbill::store::{customers, events, invoices, push_attempts};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use simnet::Simnet;
use tokio_util::sync::CancellationToken;

use crate::support::app::{Api, TestApp, spawn_app};
use crate::support::ln::{node_config, simnet, wait_for};

/// The merchant's books, with a gate: while closed, incoming payments
/// cannot be checked yet (LDK holds the HTLC and asks again).
pub struct GatedBooks {
    books: BillingSink,
    pub open: AtomicBool,
    /// A payment arrived while the gate was closed.
    pub held: AtomicBool,
}

#[async_trait::async_trait]
impl PaymentSink for GatedBooks {
    async fn may_claim(&self, hash: &PaymentHash, amount_msat: u64) -> anyhow::Result<Verdict> {
        if !self.open.load(Ordering::SeqCst) {
            self.held.store(true, Ordering::SeqCst);
            anyhow::bail!("the books are closed for the test");
        }
        self.books.may_claim(hash, amount_msat).await
    }
    async fn claimed(&self, hash: &PaymentHash, amount_msat: u64) -> anyhow::Result<()> {
        self.books.claimed(hash, amount_msat).await
    }
}

pub struct Deployment {
    pub chain: Simnet,
    pub app: TestApp,
    pub books: Arc<GatedBooks>,
    pub node: Arc<Node>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

pub fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// How the tests deliver pushes.
pub fn policy() -> PushPolicy {
    PushPolicy {
        reply_timeout: Duration::from_secs(10),
        max_tries: 3,
        // Retries are due at once: the test drives the rounds.
        backoff: chrono::Duration::zero(),
        max_in_flight: 16,
    }
}

impl Deployment {
    /// The app, the chain, and the deployment's node answering grant
    /// messages (as the node role does), recorded as the node subscribe
    /// codes name.
    pub async fn open() -> Deployment {
        let chain = simnet().await;
        let app = spawn_app().await;
        let dir = tempfile::tempdir().unwrap();
        let books = Arc::new(GatedBooks {
            books: BillingSink {
                db: app.db.clone(),
                clocks: app.context.clocks.clone(),
            },
            open: AtomicBool::new(true),
            held: AtomicBool::new(false),
        });
        let (grants_tx, grants_rx) = tokio::sync::mpsc::unbounded_channel();
        let inboxes = Inboxes {
            pushes: None,
            grants: Some(grants_tx),
        };
        let node = Node::start_with_inboxes(
            node_config(&chain, dir.path(), loopback()),
            books.clone(),
            inboxes,
        )
        .await
        .expect("merchant node");
        pushbill::store::node_identity::record(
            &app.db,
            app.now(),
            &node.node_id().to_string(),
            &node.listen_addr().to_string(),
        )
        .await
        .unwrap();
        let shutdown = CancellationToken::new();
        let service = GrantService {
            db: app.db.clone(),
            clocks: app.context.clocks.clone(),
            node: Arc::clone(&node),
        };
        tokio::spawn(grant_service::run(service, grants_rx, shutdown.clone()));
        Deployment {
            chain,
            app,
            books,
            node,
            shutdown,
            _dir: dir,
        }
    }

    /// A merchant of this deployment with an API key.
    pub async fn merchant(&self, name: &str, prefix: &str) -> Api {
        let (merchant, key) = catalog::merchants::create_with_api_key(
            &self.app.db,
            self.app.now(),
            name,
            prefix,
            pushbill::auth::api_keys::Mode::Test,
            false,
        )
        .await
        .unwrap();
        let mut api = self.app.api_with_key(&key.secret);
        api.merchant_id = merchant.id;
        api
    }

    /// A subscribe code of `api`'s merchant (`body`: `plan` or `customer`, caps).
    pub async fn subscribe_code(&self, api: &Api, body: serde_json::Value) -> String {
        let reply = api.post("/v1/subscribe_codes", body).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply.body["code"].as_str().expect("a code").to_owned()
    }

    pub fn sender(&self) -> PushSender {
        PushSender {
            db: self.app.db.clone(),
            clock: self.app.clock.clone(),
            node: Arc::clone(&self.node),
            policy: policy(),
        }
    }

    /// A customer of `merchant_id` whose node id a merchant typed in
    /// (unverified), reachable at `addr`.
    pub async fn typed_customer(
        &self,
        merchant_id: &str,
        node_id: &str,
        addr: std::net::SocketAddr,
    ) -> customers::Model {
        let new = NewCustomer {
            email: Some("alice@example.com".parse().unwrap()),
            node_id: Some(NodeId::parse(node_id).unwrap()),
            node_address: Some(NodeAddress::parse(&format!("{node_id}@{addr}")).unwrap()),
            ..NewCustomer::default()
        };
        catalog::customers::create(&self.app.db, self.app.now(), merchant_id, new)
            .await
            .unwrap()
    }

    pub async fn customer(&self, id: &str) -> customers::Model {
        customers::Entity::find_by_id(id)
            .one(&self.app.db)
            .await
            .unwrap()
            .expect("the customer")
    }

    /// A one-off invoice of `sat` for `customer_id`, its BOLT11 issued (which queues the push).
    pub async fn one_off_invoice(
        &self,
        merchant_id: &str,
        customer_id: &str,
        sat: u64,
    ) -> invoices::Model {
        self.one_off_described(merchant_id, customer_id, sat, "Lunch")
            .await
    }

    pub async fn one_off_described(
        &self,
        merchant_id: &str,
        customer_id: &str,
        sat: u64,
        description: &str,
    ) -> invoices::Model {
        let invoice = pushbill::billing::invoicing::create_one_off(
            &self.app.db,
            self.app.now(),
            merchant_id,
            customer_id,
            crate::support::app::sat(sat),
            Some(description.into()),
            chrono::Duration::days(1),
        )
        .await
        .unwrap();
        self.issue().await;
        invoice
    }

    pub async fn issue(&self) {
        let issuer = NodeIssuer(Arc::clone(&self.node));
        payments::issue_pending(
            &self.app.db,
            &issuer,
            self.app.now(),
            chrono::Duration::hours(1),
            100,
        )
        .await
        .unwrap();
    }

    /// The BOLT11 of the invoice's (first) payment request.
    pub async fn bolt11(&self, invoice_id: &str) -> String {
        self.app.payment_requests_of(invoice_id).await[0]
            .bolt11
            .clone()
            .expect("issued")
    }

    /// Runs push rounds until the push of `invoice_id` is no longer queued.
    pub async fn push(&self, invoice_id: &str) -> push_attempts::Model {
        let sender = self.sender();
        for _ in 0..20 {
            sender.run_once().await.unwrap();
            let push = self.pushes(invoice_id).await.pop().expect("a push");
            if push.status != "queued" {
                return push;
            }
        }
        panic!("the push stayed queued");
    }

    pub async fn pushes(&self, invoice_id: &str) -> Vec<push_attempts::Model> {
        let requests: Vec<String> = self
            .app
            .payment_requests_of(invoice_id)
            .await
            .into_iter()
            .map(|r| r.id)
            .collect();
        push_attempts::Entity::find()
            .filter(push_attempts::Column::PaymentRequestId.is_in(requests))
            .order_by_asc(push_attempts::Column::CreatedAt)
            .order_by_asc(push_attempts::Column::Id)
            .all(&self.app.db)
            .await
            .unwrap()
    }

    /// The payload of the object's one event of `event_type`.
    pub async fn event(&self, object_id: &str, event_type: &str) -> serde_json::Value {
        let mut found: Vec<_> = events::for_object(&self.app.db, object_id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == event_type)
            .collect();
        assert_eq!(found.len(), 1, "one {event_type}");
        found.remove(0).data
    }

    /// Sends the push again as if the merchant had died before recording the
    /// answer (its lease ran out): same push id, same BOLT11.
    pub async fn resend(&self, push: &push_attempts::Model) -> push_attempts::Model {
        let mut row = push.clone().into_active_model();
        row.status = Set("queued".into());
        row.locked_until = Set(None);
        row.update(&self.app.db).await.unwrap();
        let sender = self.sender();
        sender.run_once().await.unwrap();
        push_attempts::Entity::find_by_id(&push.id)
            .one(&self.app.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// Waits until the invoice is paid, running push rounds (late answers).
    pub async fn wait_paid(&self, invoice_id: &str) {
        let app = &self.app;
        wait_for("the invoice to be paid", || async {
            app.invoice(invoice_id).await.status == "paid"
        })
        .await;
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.node.stop().await;
        self.chain.shutdown().await;
    }
}

/// The payer's options for a test: its time is the app's test clock.
pub fn payer_options(app: &TestApp) -> PayerOptions {
    let clock = app.clock.clone();
    PayerOptions {
        now: Arc::new(move || pushbill::clock::Clock::now(clock.as_ref())),
        ..PayerOptions::default()
    }
}

/// A payer in `dir` with a ready 1,000,000 sat channel to the deployment's node.
pub async fn payer_with_channel(
    deployment: &Deployment,
    dir: &std::path::Path,
    options: PayerOptions,
) -> Arc<Payer> {
    let payer = Payer::start_with(
        dir.to_owned(),
        node_config(&deployment.chain, dir, loopback()),
        options,
    )
    .await
    .expect("payer");
    let node = payer.node();
    let merchant = &deployment.node;
    node.connect_peer(merchant.node_id(), merchant.listen_addr())
        .await
        .expect("connect");
    node.open_channel(merchant.node_id(), 1_000_000, 0)
        .expect("open channel");
    let chain = &deployment.chain;
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    let (payer_id, merchant_id) = (node.node_id().to_string(), merchant.node_id().to_string());
    let usable = |n: &Node, peer: &str| {
        n.list_channels()
            .iter()
            .any(|c| c.is_usable && c.counterparty_node_id == peer)
    };
    wait_for("a usable channel on both sides", || async {
        usable(node, &merchant_id) && usable(merchant, &payer_id)
    })
    .await;
    payer
}

/// Runs `pushbill payer ARGS` (the real command line, in this process)
/// against the payer in `dir`, answering `input` to its question; its output.
pub async fn payer_command(
    dir: &std::path::Path,
    args: &[&str],
    input: &str,
) -> anyhow::Result<String> {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: payer::cli::PayerArgs,
    }
    let dir_arg = dir.display().to_string();
    let mut argv = vec!["pushbill-payer", "--data-dir", dir_arg.as_str()];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv)?;
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(input.as_bytes().to_vec());
    payer::cli::run_with(cli.args, &mut input, &mut out).await?;
    Ok(String::from_utf8(out)?)
}
