//! Push invoices between real LDK nodes over TCP on loopback, on the chain
//! simulator: the merchant's node role pushes each payment request's BOLT11
//! to the customer's node, where `pushbill payer` pays it inside an
//! allowance, holds it for approval, or rejects it; the books and the
//! events follow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lightning::types::payment::PaymentHash;
use ln_node::{Node, PaymentSink, RefuseIncoming, Verdict};
use payer::Payer;
use payer::control::{self, Command, Submitted};
use payer::state::{Allowance, Per, Status};
use push_protocol::handler::PushMessage;
use push_protocol::wire::{PushId, PushInvoice, RejectReason, ReplyStatus};
use pushbill::billing::payments;
use pushbill::catalog::{self, customers::NewCustomer};
use pushbill::domain::{NodeAddress, NodeId};
use pushbill::node::issuer::{BillingSink, NodeIssuer};
use pushbill::node::push_sender::{PushPolicy, PushSender};
use pushbill::store::{customers, events, invoices, merchants, push_attempts};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use simnet::Simnet;

use crate::support::app::{TestApp, spawn_app};
use crate::support::ln::{node_config, simnet, wait_for};

/// The merchant's books, with a gate: while closed, incoming payments
/// cannot be checked yet (LDK holds the HTLC and asks again).
struct GatedBooks {
    books: BillingSink,
    open: AtomicBool,
    /// A payment arrived while the gate was closed.
    held: AtomicBool,
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

struct Shop {
    chain: Simnet,
    app: TestApp,
    books: Arc<GatedBooks>,
    merchant_node: Arc<Node>,
    merchant: merchants::Model,
    _merchant_dir: tempfile::TempDir,
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn policy() -> PushPolicy {
    PushPolicy {
        reply_timeout: Duration::from_secs(10),
        max_tries: 3,
        // Retries are due at once: the test drives the rounds.
        backoff: chrono::Duration::zero(),
        max_in_flight: 16,
    }
}

impl Shop {
    async fn open() -> Shop {
        let chain = simnet().await;
        let app = spawn_app().await;
        let dir = tempfile::tempdir().unwrap();
        let books = Arc::new(GatedBooks {
            books: BillingSink {
                db: app.db.clone(),
                clock: app.clock.clone(),
            },
            open: AtomicBool::new(true),
            held: AtomicBool::new(false),
        });
        let merchant_node = Node::start(node_config(&chain, dir.path(), loopback()), books.clone())
            .await
            .expect("merchant node");
        let merchant = app.merchant().await;
        Shop {
            chain,
            app,
            books,
            merchant_node,
            merchant,
            _merchant_dir: dir,
        }
    }

    fn sender(&self) -> PushSender {
        PushSender {
            db: self.app.db.clone(),
            clock: self.app.clock.clone(),
            node: Arc::clone(&self.merchant_node),
            policy: policy(),
        }
    }

    /// A customer whose node is `node_id`, reachable at `addr`.
    async fn customer(&self, node_id: &str, addr: std::net::SocketAddr) -> customers::Model {
        let new = NewCustomer {
            email: Some("alice@example.com".parse().unwrap()),
            node_id: Some(NodeId::parse(node_id).unwrap()),
            node_address: Some(NodeAddress::parse(&format!("{node_id}@{addr}")).unwrap()),
            ..NewCustomer::default()
        };
        catalog::customers::create(&self.app.db, self.app.now(), &self.merchant.id, new)
            .await
            .unwrap()
    }

    /// A subscription's first invoice for `customer`, its BOLT11 issued by
    /// the merchant's node (which queues the push).
    async fn subscription_invoice(&self, customer: &customers::Model) -> invoices::Model {
        let app = &self.app;
        let plan = app.monthly_plan(&self.merchant).await;
        let sub = app.subscribe(&self.merchant, customer, &plan, None).await;
        self.issue().await;
        app.invoices_of(&sub.id).await.remove(0)
    }

    async fn one_off_invoice(&self, customer: &customers::Model, sat: u64) -> invoices::Model {
        self.one_off_described(customer, sat, "Lunch").await
    }

    async fn one_off_described(
        &self,
        customer: &customers::Model,
        sat: u64,
        description: &str,
    ) -> invoices::Model {
        let invoice = pushbill::billing::invoicing::create_one_off(
            &self.app.db,
            self.app.now(),
            &self.merchant.id,
            &customer.id,
            crate::support::app::sat(sat),
            Some(description.into()),
            chrono::Duration::days(1),
        )
        .await
        .unwrap();
        self.issue().await;
        invoice
    }

    async fn issue(&self) {
        let issuer = NodeIssuer(Arc::clone(&self.merchant_node));
        payments::issue_pending(
            &self.app.db,
            &issuer,
            self.app.now(),
            chrono::Duration::hours(1),
            10,
        )
        .await
        .unwrap();
    }

    /// Runs push rounds until the push of `invoice_id` is no longer queued.
    async fn push(&self, invoice_id: &str) -> push_attempts::Model {
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

    async fn pushes(&self, invoice_id: &str) -> Vec<push_attempts::Model> {
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

    /// The payload of the invoice's one event of `event_type`.
    async fn event(&self, invoice_id: &str, event_type: &str) -> serde_json::Value {
        let mut found: Vec<_> = events::for_object(&self.app.db, invoice_id)
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
    async fn resend(&self, push: &push_attempts::Model) -> push_attempts::Model {
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

    async fn stop(self) {
        self.merchant_node.stop().await;
        self.chain.shutdown().await;
    }
}

/// A payer with a ready 1,000,000 sat channel to the merchant's node.
async fn payer_with_channel(shop: &Shop, dir: &std::path::Path) -> Arc<Payer> {
    let payer = Payer::start(dir.to_owned(), node_config(&shop.chain, dir, loopback()))
        .await
        .expect("payer");
    let node = payer.node();
    node.connect_peer(
        shop.merchant_node.node_id(),
        shop.merchant_node.listen_addr(),
    )
    .await
    .expect("connect");
    node.open_channel(shop.merchant_node.node_id(), 1_000_000, 0)
        .expect("open channel");
    let chain = &shop.chain;
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    wait_for("a usable channel on both sides", || async {
        let usable = |n: &Node| n.list_channels().iter().any(|c| c.is_usable);
        usable(node) && usable(&shop.merchant_node)
    })
    .await;
    payer
}

/// Gives the running payer in `dir` a monthly allowance for the merchant,
/// through its command inbox, and waits until it holds it.
async fn allow(shop: &Shop, payer: &Payer, dir: &std::path::Path, max_msat: u64) {
    let command = Command::AddAllowance(Allowance {
        payee: shop.merchant_node.node_id().to_string(),
        max_msat,
        per: Per::Month,
        until: None,
    });
    control::submit(dir, &command, chrono::Utc::now()).unwrap();
    wait_for("the allowance", || async {
        !payer.state().allowances.is_empty()
    })
    .await;
}

async fn wait_paid(app: &TestApp, invoice_id: &str) {
    wait_for("the invoice to be paid", || async {
        app.invoice(invoice_id).await.status == "paid"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_subscription_invoice_is_paid_inside_the_allowance_once() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&shop, dir.path()).await;
    allow(&shop, &payer, dir.path(), 50_000_000).await;

    let customer = shop
        .customer(
            &payer.node().node_id().to_string(),
            payer.node().listen_addr(),
        )
        .await;
    let invoice = shop.subscription_invoice(&customer).await;
    assert_eq!(invoice.amount_msat, 10_000_000);
    // The books hold the payment a moment, so the invoice is still open
    // when the push is delivered a second time.
    shop.books.open.store(false, Ordering::SeqCst);
    let push = shop.push(&invoice.id).await;
    assert_eq!(push.status, "accepted");
    assert_eq!(push.tries, 1);
    let event = shop.event(&invoice.id, "invoice.pushed").await;
    assert_eq!(event["id"], invoice.id.as_str());
    assert_eq!(event["object"], "invoice");
    assert_eq!(event["push"]["status"], "accepted");
    assert_eq!(event["push"]["node_id"], customer.node_id.clone().unwrap());
    let books = &shop.books;
    wait_for("the payment at the merchant", || async {
        books.held.load(Ordering::SeqCst)
    })
    .await;

    // The same push arrives again (same push id, same BOLT11): the payer
    // answers with what it did, and does not pay again.
    let again = shop.resend(&push).await;
    assert_eq!(again.status, "accepted");
    assert_eq!(again.push_id, push.push_id);
    assert_eq!(payer.state().payments.len(), 1);

    shop.books.open.store(true, Ordering::SeqCst);
    wait_paid(app, &invoice.id).await;
    let types = app.event_types(&invoice.id).await;
    let pushed = types.iter().position(|t| t == "invoice.pushed");
    let paid = types.iter().position(|t| t == "invoice.paid");
    assert!(pushed.is_some() && pushed < paid, "{types:?}");
    assert_eq!(types.iter().filter(|t| *t == "invoice.paid").count(), 1);
    let request = app.payment_requests_of(&invoice.id).await.remove(0);
    assert_eq!(request.amount_received_msat, Some(10_000_000));

    // The payer's late `paid` answer reaches the push.
    let sender = shop.sender();
    wait_for("the paid answer", || async {
        sender.run_once().await.unwrap();
        shop.pushes(&invoice.id).await[0].status == "paid"
    })
    .await;
    let state = payer.state();
    assert_eq!(state.payments.len(), 1);
    let payment = state.payments.values().next().unwrap();
    assert_eq!(payment.status, Status::Paid);
    assert_eq!(payment.amount_msat, 10_000_000);
    assert_eq!(payment.invoice_number, invoice.number);
    assert_eq!(payment.plan_name.as_deref(), Some("Monthly"));

    // Once the invoice is paid, a push still queued for it is dropped, not sent.
    let dropped = shop.resend(&shop.pushes(&invoice.id).await[0]).await;
    assert_eq!(dropped.status, "dropped");
    assert_eq!(dropped.reason.as_deref(), Some("invoice_paid"));

    payer.stop().await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_payees_are_rejected_and_pushes_over_the_allowance_wait_for_approval() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&shop, dir.path()).await;
    let customer = shop
        .customer(
            &payer.node().node_id().to_string(),
            payer.node().listen_addr(),
        )
        .await;

    // No allowance for this merchant: rejected, and the merchant is told.
    let unknown = shop.one_off_invoice(&customer, 1_000).await;
    let push = shop.push(&unknown.id).await;
    assert_eq!(push.status, "rejected");
    assert_eq!(push.reason.as_deref(), Some("rejected:no_grant"));
    let event = shop.event(&unknown.id, "invoice.push_failed").await;
    assert_eq!(event["push"]["reason"], "rejected:no_grant");
    assert_eq!(app.invoice(&unknown.id).await.status, "open");
    assert!(payer.state().payments.is_empty());

    // 5,000 sat a month allowed: 6,000 sat waits for approval.
    allow(&shop, &payer, dir.path(), 5_000_000).await;
    let big = shop.one_off_invoice(&customer, 6_000).await;
    let push = shop.push(&big.id).await;
    assert_eq!(push.status, "pending_approval");
    let event = shop.event(&big.id, "invoice.pushed").await;
    assert_eq!(event["push"]["status"], "pending_approval");
    let held = payer.state();
    let (_, payment) = held.payments.iter().next().unwrap();
    assert_eq!(payment.status, Status::PendingApproval);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.invoice(&big.id).await.status, "open");

    // Approved by the subscriber (through the running payer's inbox): paid.
    let approve = Command::Approve {
        push_id: payment.push_id.clone(),
    };
    assert_eq!(
        control::submit(dir.path(), &approve, chrono::Utc::now()).unwrap(),
        Submitted::Queued
    );
    wait_paid(app, &big.id).await;
    let sender = shop.sender();
    wait_for("the paid answer", || async {
        sender.run_once().await.unwrap();
        shop.pushes(&big.id).await[0].status == "paid"
    })
    .await;
    // Approved outside the allowance: the allowance is still whole.
    let small = shop.one_off_invoice(&customer, 5_000).await;
    assert_eq!(shop.push(&small.id).await.status, "accepted");
    wait_paid(app, &small.id).await;

    // A relay (another node) delivers pushes: the allowance follows the
    // invoice's signed payee, not the peer that carried it.
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Node::start(
        node_config(&shop.chain, relay_dir.path(), loopback()),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    relay
        .connect_peer(payer.node().node_id(), payer.node().listen_addr())
        .await
        .unwrap();
    assert_eq!(
        relay.peer_supports_push(&payer.node().node_id()),
        Some(true)
    );
    let relayed = |invoice: String, amount_msat: u64| {
        let relay = Arc::clone(&relay);
        let to = payer.node().node_id();
        async move {
            let push = PushInvoice {
                push_id: PushId::random(),
                invoice,
                amount_msat,
                merchant_name: "Relayed".into(),
                invoice_number: "R-1".into(),
                plan_name: None,
                period_start: None,
                period_end: None,
            };
            let reply = relay.expect_push_reply(push.push_id, to);
            relay.send_push_message(to, PushMessage::Invoice(push));
            tokio::time::timeout(Duration::from_secs(20), reply)
                .await
                .expect("a reply")
                .unwrap()
                .status
        }
    };
    // The merchant's invoice (its allowance is used up this month): held.
    let third = shop.one_off_invoice(&customer, 1_000).await;
    let bolt11 = app.payment_requests_of(&third.id).await[0]
        .bolt11
        .clone()
        .unwrap();
    assert_eq!(
        relayed(bolt11, 1_000_000).await,
        ReplyStatus::PendingApproval
    );
    // The relay's own invoice: no allowance for the relay.
    let own = relay
        .create_invoice(1_000_000, "relay", Duration::from_secs(600), None)
        .unwrap();
    assert_eq!(
        relayed(own.bolt11.clone(), 1_000_000).await,
        ReplyStatus::Rejected(RejectReason::NoGrant)
    );
    // A push whose amount differs from its invoice's is refused.
    assert_eq!(
        relayed(own.bolt11, 2_000_000).await,
        ReplyStatus::Rejected(RejectReason::AmountMismatch)
    );
    relay.stop().await;

    // Declined by the subscriber: the merchant hears it afterwards.
    let fourth = shop.one_off_invoice(&customer, 1_000).await;
    assert_eq!(shop.push(&fourth.id).await.status, "pending_approval");
    let held = payer
        .state()
        .payments
        .values()
        .find(|p| p.invoice_number == fourth.number)
        .unwrap()
        .push_id
        .clone();
    let decline = Command::Reject { push_id: held };
    control::submit(dir.path(), &decline, chrono::Utc::now()).unwrap();
    let sender = shop.sender();
    wait_for("the decline", || async {
        sender.run_once().await.unwrap();
        shop.pushes(&fourth.id).await[0].status == "rejected"
    })
    .await;
    let event = shop.event(&fourth.id, "invoice.push_failed").await;
    assert_eq!(event["push"]["reason"], "rejected:declined");
    assert_eq!(app.invoice(&fourth.id).await.status, "open");
    let declined = payer.state();
    let payment = declined
        .payments
        .values()
        .find(|p| p.invoice_number == fourth.number)
        .unwrap();
    assert_eq!(payment.status, Status::Rejected);

    payer.stop().await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_to_a_node_without_the_feature_or_offline_fail_after_their_tries() {
    let shop = Shop::open().await;
    let app = &shop.app;
    // A Lightning node that does not take push invoices.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = Node::start(
        node_config(&shop.chain, plain_dir.path(), loopback()),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    let customer = shop
        .customer(&plain.node_id().to_string(), plain.listen_addr())
        .await;
    let invoice = shop.one_off_invoice(&customer, 1_000).await;
    let push = shop.push(&invoice.id).await;
    assert_eq!(push.status, "failed");
    assert_eq!(push.tries, policy().max_tries);
    assert_eq!(push.reason.as_deref(), Some("unsupported"));
    let event = shop.event(&invoice.id, "invoice.push_failed").await;
    assert_eq!(event["push"]["reason"], "unsupported");

    // A node that is offline: its port refuses connections.
    let offline_dir = tempfile::tempdir().unwrap();
    let offline = Node::start(
        node_config(&shop.chain, offline_dir.path(), loopback()),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    let (offline_id, offline_addr) = (offline.node_id().to_string(), offline.listen_addr());
    offline.stop().await;
    drop(offline);
    let customer = shop.customer(&offline_id, offline_addr).await;
    let invoice = shop.one_off_invoice(&customer, 1_000).await;
    let push = shop.push(&invoice.id).await;
    assert_eq!(push.status, "failed");
    assert_eq!(push.tries, policy().max_tries);
    assert_eq!(push.reason.as_deref(), Some("unreachable"));
    assert_eq!(
        app.event_types(&invoice.id).await,
        ["invoice.created", "invoice.push_failed"]
    );

    // A customer without a node gets no push at all.
    let no_node = catalog::customers::create(
        &app.db,
        app.now(),
        &shop.merchant.id,
        NewCustomer::default(),
    )
    .await
    .unwrap();
    let invoice = shop.one_off_invoice(&no_node, 1_000).await;
    assert!(shop.pushes(&invoice.id).await.is_empty());

    plain.stop().await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_restarted_between_accepting_and_paid_pays_once() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&shop, dir.path()).await;
    allow(&shop, &payer, dir.path(), 50_000_000).await;
    let customer = shop
        .customer(
            &payer.node().node_id().to_string(),
            payer.node().listen_addr(),
        )
        .await;

    // The merchant's books hold the payment: it stays in flight.
    shop.books.open.store(false, Ordering::SeqCst);
    let invoice = shop.one_off_invoice(&customer, 2_000).await;
    let push = shop.push(&invoice.id).await;
    assert_eq!(push.status, "accepted");
    let books = &shop.books;
    wait_for("the payment at the merchant", || async {
        books.held.load(Ordering::SeqCst)
    })
    .await;
    payer.stop().await;
    drop(payer);
    let on_disk = payer::read_state(dir.path()).unwrap();
    assert_eq!(on_disk.payments.len(), 1);
    assert_eq!(
        on_disk.payments.values().next().unwrap().status,
        Status::Paying
    );

    // Back up, the same push again: answered, not paid a second time.
    let payer = Payer::start(
        dir.path().to_owned(),
        node_config(&shop.chain, dir.path(), loopback()),
    )
    .await
    .expect("payer again");
    let node = payer.node();
    let merchant_id = shop.merchant_node.node_id();
    wait_for("the channel back", || async {
        node.list_channels().iter().any(|c| c.is_usable)
            && shop.merchant_node.peer_supports_push(&node.node_id()) == Some(true)
            && node.peer_supports_push(&merchant_id).is_some()
    })
    .await;
    let again = shop.resend(&push).await;
    assert_eq!(again.status, "accepted");
    assert_eq!(payer.state().payments.len(), 1);

    // The books open: the one payment completes.
    shop.books.open.store(true, Ordering::SeqCst);
    wait_paid(app, &invoice.id).await;
    wait_for("the payer to see it paid", || async {
        payer
            .state()
            .payments
            .values()
            .all(|p| p.status == Status::Paid)
    })
    .await;
    assert_eq!(payer.state().payments.len(), 1);
    let types = app.event_types(&invoice.id).await;
    assert_eq!(types.iter().filter(|t| *t == "invoice.paid").count(), 1);
    let paid = app.payment_requests_of(&invoice.id).await.remove(0);
    assert_eq!(paid.amount_received_msat, Some(2_000_000));

    payer.stop().await;
    shop.stop().await;
}

/// The BOLT11 of the invoice's first payment request.
async fn bolt11_of(app: &TestApp, invoice_id: &str) -> lightning_invoice::Bolt11Invoice {
    let bolt11 = app.payment_requests_of(invoice_id).await[0]
        .bolt11
        .clone()
        .expect("issued");
    bolt11.parse().expect("a BOLT11")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_invoice_names_no_other_customer_in_its_route_hints() {
    let shop = Shop::open().await;
    let app = &shop.app;
    let (dir_1, dir_2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let payer_1 = payer_with_channel(&shop, dir_1.path()).await;
    let payer_2 = payer_with_channel(&shop, dir_2.path()).await;
    allow(&shop, &payer_1, dir_1.path(), 50_000_000).await;
    let (node_1, node_2) = (payer_1.node().node_id(), payer_2.node().node_id());
    let with_2 = shop
        .merchant_node
        .list_channels()
        .into_iter()
        .filter(|c| c.counterparty_node_id == node_2.to_string() && c.is_usable)
        .count();
    assert_eq!(with_2, 1, "a usable channel with customer 2");
    let customer_1 = shop
        .customer(&node_1.to_string(), payer_1.node().listen_addr())
        .await;
    shop.customer(&node_2.to_string(), payer_2.node().listen_addr())
        .await;

    // Pushed to customer 1: one hint, its own channel into the merchant's
    // node; nothing names customer 2 (a hint for its channel would start
    // at its node).
    let invoice = shop.one_off_invoice(&customer_1, 3_000).await;
    let bolt11 = bolt11_of(app, &invoice.id).await;
    let hints = bolt11.route_hints();
    assert_eq!(hints.len(), 1, "{hints:?}");
    assert_eq!(hints[0].0.len(), 1);
    assert_eq!(hints[0].0[0].src_node_id, node_1);
    assert!(
        !hints
            .iter()
            .flat_map(|h| &h.0)
            .any(|hop| hop.src_node_id == node_2)
    );
    // Customer 1 still pays it.
    assert_eq!(shop.push(&invoice.id).await.status, "accepted");
    wait_paid(app, &invoice.id).await;

    // A customer without a node (the pay page's): no route hints at all.
    let no_node = catalog::customers::create(
        &app.db,
        app.now(),
        &shop.merchant.id,
        NewCustomer::default(),
    )
    .await
    .unwrap();
    let invoice = shop.one_off_invoice(&no_node, 1_000).await;
    assert!(bolt11_of(app, &invoice.id).await.route_hints().is_empty());

    payer_1.stop().await;
    payer_2.stop().await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_subscriber_delays_only_its_own_push() {
    let shop = Shop::open().await;
    let app = &shop.app;
    // A node that takes pushes (it advertises the feature bit) and never
    // answers one: they pile up in an inbox nobody reads.
    let silent_dir = tempfile::tempdir().unwrap();
    let (inbox, mut silent_pushes) = tokio::sync::mpsc::unbounded_channel();
    let silent = Node::start_with(
        node_config(&shop.chain, silent_dir.path(), loopback()),
        Arc::new(RefuseIncoming),
        Some(inbox),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&shop, dir.path()).await;
    allow(&shop, &payer, dir.path(), 50_000_000).await;
    let silent_customer = shop
        .customer(&silent.node_id().to_string(), silent.listen_addr())
        .await;
    let customer = shop
        .customer(
            &payer.node().node_id().to_string(),
            payer.node().listen_addr(),
        )
        .await;
    // The silent one is queued first. The good one's description is 500
    // emoji (2,000 bytes): the push carries it cut to 1,024 bytes, which
    // the payer takes (it drops a longer one, unanswered).
    let unanswered = shop.one_off_invoice(&silent_customer, 1_000).await;
    let emoji = "\u{1F600}".repeat(500);
    let answered = shop.one_off_described(&customer, 2_000, &emoji).await;

    // The node role's loop, with a reply timeout far longer than a push
    // that is answered takes.
    let sender = PushSender {
        policy: PushPolicy {
            reply_timeout: Duration::from_secs(30),
            ..policy()
        },
        ..shop.sender()
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let sending = tokio::spawn(pushbill::node::push_sender::run(
        sender,
        Duration::from_millis(100),
        stop.clone(),
    ));
    wait_for("the answered push", || async {
        shop.pushes(&answered.id).await[0].status != "queued"
    })
    .await;
    let good = shop.pushes(&answered.id).await.remove(0);
    // (`paid` may already have come back too.)
    assert!(
        ["accepted", "paid"].contains(&good.status.as_str()),
        "{}",
        good.status
    );
    assert_eq!(
        shop.event(&answered.id, "invoice.pushed").await["push"]["status"],
        "accepted"
    );
    // The silent subscriber got its push and is still being waited for:
    // no try of it is recorded yet.
    let delivered = tokio::time::timeout(Duration::from_secs(30), silent_pushes.recv())
        .await
        .expect("the silent node got its push")
        .unwrap();
    assert_eq!(delivered.1.invoice_number, unanswered.number);
    let waiting = shop.pushes(&unanswered.id).await.remove(0);
    assert_eq!(
        (waiting.status.as_str(), waiting.tries, waiting.attempted_at),
        ("queued", 0, None),
        "the silent push is in flight"
    );
    assert!(waiting.locked_until.is_some_and(|t| t > chrono::Utc::now()));
    let held = payer.state();
    let paying = held.payments.values().next().expect("the payer's payment");
    assert_eq!(
        paying.plan_name.as_deref(),
        Some("\u{1F600}".repeat(256).as_str())
    );
    wait_paid(app, &answered.id).await;

    // Its timeout is recorded after the answered push, by the service's clock.
    app.clock.advance(chrono::Duration::minutes(1)).unwrap();
    wait_for("the silent push's timeout", || async {
        shop.pushes(&unanswered.id).await[0].tries == 1
    })
    .await;
    let timed_out = shop.pushes(&unanswered.id).await.remove(0);
    assert_eq!(timed_out.reason.as_deref(), Some("timeout"));
    assert!(timed_out.attempted_at.unwrap() > good.replied_at.unwrap());
    stop.cancel();
    sending.await.unwrap();

    silent.stop().await;
    payer.stop().await;
    shop.stop().await;
}
