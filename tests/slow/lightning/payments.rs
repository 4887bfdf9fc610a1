//! Real LDK nodes over TCP on loopback, on the chain simulator: a customer
//! node opens a channel to the merchant's node and pays the BOLT11 invoices
//! pushbill issues; the books follow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bitcoin::hashes::{Hash, sha256};
use lightning::types::payment::PaymentHash;
use ln_node::{Node, PaymentSink, RefuseIncoming, Verdict};
use pushbill::billing::payments;
use pushbill::billing::{invoicing, lifecycle};
use pushbill::node::issuer::{BillingSink, NodeIssuer};
use pushbill::store::payment_requests;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
use simnet::Simnet;
use tokio::sync::Notify;

use crate::support::app::{TestApp, sat, spawn_app};
use crate::support::ln::{node_config, simnet, wait_for};

struct Network {
    chain: Simnet,
    app: TestApp,
    merchant: Arc<Node>,
    merchant_dir: tempfile::TempDir,
    customer: Arc<Node>,
    _customer_dir: tempfile::TempDir,
}

fn billing_sink(app: &TestApp) -> Arc<BillingSink> {
    Arc::new(BillingSink {
        db: app.db.clone(),
        clocks: app.context.clocks.clone(),
    })
}

/// A merchant node on the app's books and a customer node with a ready
/// 1,000,000 sat channel to it.
async fn network_with_channel() -> Network {
    network_with_channel_of(1_000_000).await
}

/// [`network_with_channel`] with a channel of `capacity_sat`.
async fn network_with_channel_of(capacity_sat: u64) -> Network {
    let chain = simnet().await;
    let app = spawn_app().await;
    let merchant_dir = tempfile::tempdir().unwrap();
    let customer_dir = tempfile::tempdir().unwrap();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let merchant = Node::start(
        node_config(&chain, merchant_dir.path(), loopback),
        billing_sink(&app),
    )
    .await
    .expect("merchant node");
    let customer = Node::start(
        node_config(&chain, customer_dir.path(), loopback),
        Arc::new(RefuseIncoming),
    )
    .await
    .expect("customer node");

    customer
        .connect_peer(merchant.node_id(), merchant.listen_addr())
        .await
        .expect("connect");
    customer
        .open_channel(merchant.node_id(), capacity_sat, 0)
        .expect("open channel");
    // The funding transaction reaches the chain's mempool, then gets mined.
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    wait_for("a usable channel on both sides", || async {
        let usable = |n: &Node| n.list_channels().iter().any(|c| c.is_usable);
        usable(&customer) && usable(&merchant)
    })
    .await;
    Network {
        chain,
        app,
        merchant,
        merchant_dir,
        customer,
        _customer_dir: customer_dir,
    }
}

impl Network {
    /// A one-off invoice for the customer, issued as a real BOLT11 by the merchant node.
    async fn issued_invoice(&self, amount_sat: u64) -> (String, payment_requests::Model) {
        let app = &self.app;
        let merchant = app.merchant().await;
        let customer = app.customer(&merchant).await;
        let invoice = invoicing::create_one_off(
            &app.db,
            app.now(),
            &merchant.id,
            &customer.id,
            sat(amount_sat),
            Some("Lunch".into()),
            chrono::Duration::hours(4),
        )
        .await
        .unwrap();
        let issuer = NodeIssuer(Arc::clone(&self.merchant));
        payments::issue_pending(&app.db, &issuer, app.now(), chrono::Duration::hours(1), 10)
            .await
            .unwrap();
        let request = app.payment_requests_of(&invoice.id).await.remove(0);
        assert_eq!(request.status, "issued");
        (invoice.id, request)
    }

    async fn stop(self) {
        self.customer.stop().await;
        self.merchant.stop().await;
        self.chain.shutdown().await;
    }
}

/// A subscriber can pay an invoice of most of its channel in one payment:
/// the merchant's node takes inbound HTLCs up to the whole channel (LDK's
/// default, 10%, refused a 21,000 sat invoice over a 200,000 sat channel).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_of_most_of_a_small_channel_is_paid_in_one_payment() {
    let net = network_with_channel_of(200_000).await;
    let (invoice_id, request) = net.issued_invoice(150_000).await;
    net.customer
        .pay_invoice(&request.bolt11.clone().unwrap(), Duration::from_secs(20))
        .await
        .expect("payment of 75% of the channel");
    let app = &net.app;
    wait_for("the invoice to be paid", || async {
        app.invoice(&invoice_id).await.status == "paid"
    })
    .await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_node_pays_the_merchant_nodes_invoice_and_the_invoice_is_paid() {
    let net = network_with_channel().await;
    let (invoice_id, request) = net.issued_invoice(21_000).await;
    let bolt11 = request.bolt11.clone().unwrap();
    assert!(bolt11.starts_with("lnbcrt210u"), "21,000 sat: {bolt11}");

    let preimage = net
        .customer
        .pay_invoice(&bolt11, Duration::from_secs(20))
        .await
        .expect("payment");
    let hash = sha256::Hash::hash(&preimage.0);
    assert_eq!(
        hex::encode(hash.to_byte_array()),
        request.payment_hash.clone().unwrap()
    );

    let app = &net.app;
    wait_for("the invoice to be paid", || async {
        app.invoice(&invoice_id).await.status == "paid"
    })
    .await;
    let events = app.event_types(&invoice_id).await;
    assert_eq!(
        events.iter().filter(|e| *e == "invoice.paid").count(),
        1,
        "{events:?}"
    );
    let paid = app.payment_requests_of(&invoice_id).await.remove(0);
    assert_eq!(paid.status, "paid");
    assert_eq!(paid.amount_received_msat, Some(21_000_000));
    // The merchant's side of the channel now holds the money.
    wait_for("the merchant's balance", || async {
        net.merchant.list_channels()[0].outbound_capacity_msat > 0
    })
    .await;

    // Paying the same BOLT11 again is refused by the payer: one payment per hash.
    assert!(
        net.customer
            .pay_invoice(&bolt11, Duration::from_secs(5))
            .await
            .is_err()
    );
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_for_a_void_invoice_or_too_small_an_amount_are_failed_back() {
    let net = network_with_channel().await;
    let app = &net.app;

    // Voided after its BOLT11 was issued: the payment is refused.
    let (void_id, void_request) = net.issued_invoice(5_000).await;
    let merchant_id = app.invoice(&void_id).await.merchant_id;
    lifecycle::void(&app.db, app.now(), &merchant_id, &void_id)
        .await
        .unwrap();
    let refused = net
        .customer
        .pay_invoice(&void_request.bolt11.unwrap(), Duration::from_secs(10))
        .await;
    assert!(refused.is_err(), "a void invoice must not be paid");
    assert_eq!(app.invoice(&void_id).await.status, "void");
    assert!(
        !app.event_types(&void_id)
            .await
            .contains(&"invoice.paid".to_string())
    );

    // The books ask for more than the BOLT11 carries: refused as too small.
    let (small_id, small_request) = net.issued_invoice(5_000).await;
    let mut row = small_request.clone().into_active_model();
    row.amount_msat = Set(small_request.amount_msat + 1_000);
    row.update(&app.db).await.unwrap();
    let refused = net
        .customer
        .pay_invoice(&small_request.bolt11.unwrap(), Duration::from_secs(10))
        .await;
    assert!(refused.is_err(), "an underpayment must not be claimed");
    assert_eq!(app.invoice(&small_id).await.status, "open");

    // The channel still works for a good invoice.
    let (good_id, good_request) = net.issued_invoice(5_000).await;
    net.customer
        .pay_invoice(&good_request.bolt11.unwrap(), Duration::from_secs(20))
        .await
        .expect("a valid invoice is paid");
    wait_for("the good invoice to be paid", || async {
        app.invoice(&good_id).await.status == "paid"
    })
    .await;
    net.stop().await;
}

/// Claims normally but never gets to record the claim, as a process that
/// crashes right after claiming would; says when the claim happened.
struct CrashAfterClaim {
    inner: Arc<BillingSink>,
    claimed: AtomicBool,
    reached: Arc<Notify>,
}

#[async_trait::async_trait]
impl PaymentSink for CrashAfterClaim {
    async fn may_claim(&self, hash: &PaymentHash, amount_msat: u64) -> anyhow::Result<Verdict> {
        self.inner.may_claim(hash, amount_msat).await
    }
    async fn claimed(&self, _: &PaymentHash, _: u64) -> anyhow::Result<()> {
        if !self.claimed.swap(true, Ordering::SeqCst) {
            self.reached.notify_one();
        }
        anyhow::bail!("the process is going down")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_node_stopped_between_claim_and_record_ends_paid_once_and_keeps_its_channel() {
    let net = pay_through_a_merchant_restart(Restart::Stop).await;
    // The channel survived: once the peers have re-established it, another
    // invoice is paid through it.
    wait_for("the channel to be usable again", || async {
        net.customer.list_channels().iter().any(|c| c.is_usable)
    })
    .await;
    let (second_id, second) = net.issued_invoice(1_000).await;
    net.customer
        .pay_invoice(&second.bolt11.unwrap(), Duration::from_secs(20))
        .await
        .expect("the channel is still usable");
    wait_for("the second invoice to be paid", || async {
        net.app.invoice(&second_id).await.status == "paid"
    })
    .await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_node_killed_between_claim_and_record_ends_paid_once() {
    // Killed without a last write of its channel manager: LDK may find the
    // manager older than a channel monitor and close the channel on chain;
    // the money is claimed either way and the books say paid once.
    let net = pay_through_a_merchant_restart(Restart::Crash).await;
    net.stop().await;
}

enum Restart {
    Stop,
    Crash,
}

/// The merchant node claims a payment, goes down before the books record
/// it, and comes back from its folder: the invoice ends paid exactly once
/// and the customer sees the payment succeed.
async fn pay_through_a_merchant_restart(how: Restart) -> Network {
    let chain = simnet().await;
    let app = spawn_app().await;
    let merchant_dir = tempfile::tempdir().unwrap();
    let customer_dir = tempfile::tempdir().unwrap();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let reached = Arc::new(Notify::new());
    let merchant = Node::start(
        node_config(&chain, merchant_dir.path(), loopback),
        Arc::new(CrashAfterClaim {
            inner: billing_sink(&app),
            claimed: AtomicBool::new(false),
            reached: Arc::clone(&reached),
        }),
    )
    .await
    .unwrap();
    let customer = Node::start(
        node_config(&chain, customer_dir.path(), loopback),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    customer
        .connect_peer(merchant.node_id(), merchant.listen_addr())
        .await
        .unwrap();
    customer
        .open_channel(merchant.node_id(), 1_000_000, 0)
        .unwrap();
    wait_for("the funding transaction", || async {
        !chain.mempool().is_empty()
    })
    .await;
    chain.mine_blocks(3).unwrap();
    wait_for("a usable channel", || async {
        customer.list_channels().iter().any(|c| c.is_usable)
    })
    .await;
    let net = Network {
        chain,
        app,
        merchant,
        merchant_dir,
        customer,
        _customer_dir: customer_dir,
    };
    let (invoice_id, request) = net.issued_invoice(30_000).await;
    let bolt11 = request.bolt11.clone().unwrap();
    let payer = Arc::clone(&net.customer);
    let mut paying =
        tokio::spawn(async move { payer.pay_invoice(&bolt11, Duration::from_secs(60)).await });

    // The merchant claimed the money but goes down before the books are written.
    reached.notified().await;
    let listen = net.merchant.listen_addr();
    match how {
        Restart::Stop => net.merchant.stop().await,
        Restart::Crash => net.merchant.crash(),
    }
    assert_eq!(net.app.invoice(&invoice_id).await.status, "open");

    // Same folder, same port: the node comes back and finishes the job.
    let merchant = Node::start(
        node_config(&net.chain, net.merchant_dir.path(), listen),
        billing_sink(&net.app),
    )
    .await
    .expect("merchant restarts");
    // The customer's reconnect loop races this call; after a kill the
    // merchant may also close the stale channel and drop the peer.
    let reconnected = net
        .customer
        .connect_peer(merchant.node_id(), merchant.listen_addr())
        .await;
    if let (Restart::Stop, Err(e)) = (&how, &reconnected) {
        let again = net
            .customer
            .connect_peer(merchant.node_id(), merchant.listen_addr())
            .await;
        assert!(again.is_ok(), "reconnect after a clean stop: {e}");
    }
    let net = Network { merchant, ..net };
    let app = &net.app;
    wait_for("the invoice to be paid after the restart", || async {
        app.invoice(&invoice_id).await.status == "paid"
    })
    .await;
    // Off chain, or on chain if the channel was closed: keep mining until
    // the customer learns the preimage.
    let outcome = loop {
        tokio::select! {
            outcome = &mut paying => break outcome.unwrap(),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                net.chain.mine_blocks(1).unwrap();
            }
        }
    };
    outcome.expect("the customer sees the payment succeed");
    let events = app.event_types(&invoice_id).await;
    assert_eq!(
        events.iter().filter(|e| *e == "invoice.paid").count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        app.payment_requests_of(&invoice_id).await[0].amount_received_msat,
        Some(30_000_000)
    );
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_follow_a_one_block_reorg_and_keep_paying() {
    let net = network_with_channel().await;
    let before = net.chain.height();
    let dropped = net.chain.invalidate_tip().unwrap();
    net.chain.mine_blocks(2).unwrap();
    let tip = net.chain.tip();
    assert_ne!(tip, dropped);
    wait_for("both nodes on the new tip", || async {
        net.merchant.best_block().block_hash == tip && net.customer.best_block().block_hash == tip
    })
    .await;
    assert_eq!(net.merchant.best_block().height, before + 1);
    let (id, request) = net.issued_invoice(2_000).await;
    net.customer
        .pay_invoice(&request.bolt11.unwrap(), Duration::from_secs(20))
        .await
        .expect("payment after the reorg");
    wait_for("paid", || async {
        net.app.invoice(&id).await.status == "paid"
    })
    .await;
    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_on_the_same_folder_is_refused_and_the_identity_survives_a_restart() {
    let chain = simnet().await;
    let dir = tempfile::tempdir().unwrap();
    let loopback = "127.0.0.1:0".parse().unwrap();
    let first = Node::start(
        node_config(&chain, dir.path(), loopback),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    let second = Node::start(
        node_config(&chain, dir.path(), loopback),
        Arc::new(RefuseIncoming),
    )
    .await;
    let err = second.expect_err("two nodes on one folder").to_string();
    assert!(err.contains("another running node"), "{err}");
    let id = first.node_id();
    first.stop().await;
    let again = Node::start(
        node_config(&chain, dir.path(), loopback),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    assert_eq!(again.node_id(), id, "same seed, same node");
    assert_eq!(again.best_block().height, chain.height());
    again.stop().await;
    chain.shutdown().await;
}

/// LDK cannot issue a BOLT11 above u64::MAX / 10 msat. A payment request for
/// more (one from before the API refused such amounts) fails for good, with
/// its event, instead of being tried every second forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_above_what_a_bolt11_can_carry_fails_with_an_event() {
    let chain = simnet().await;
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        node_config(&chain, dir.path(), "127.0.0.1:0".parse().unwrap()),
        billing_sink(&app),
    )
    .await
    .expect("merchant node");
    let merchant = app.merchant().await;
    let customer = app.customer(&merchant).await;
    let invoice = invoicing::create_one_off(
        &app.db,
        app.now(),
        &merchant.id,
        &customer.id,
        sat(1),
        None,
        chrono::Duration::hours(4),
    )
    .await
    .unwrap();
    let request = app.payment_requests_of(&invoice.id).await.remove(0);
    let mut row = request.into_active_model();
    row.amount_msat = Set(pushbill::domain::Msat::MAX_INVOICE.to_i64() + 1);
    row.update(&app.db).await.unwrap();

    let issuer = NodeIssuer(Arc::clone(&node));
    for _ in 0..2 {
        let issued =
            payments::issue_pending(&app.db, &issuer, app.now(), chrono::Duration::hours(1), 10)
                .await
                .unwrap();
        assert_eq!(issued, 0);
    }
    let request = app.payment_requests_of(&invoice.id).await.remove(0);
    assert_eq!(request.status, "failed");
    assert!(
        request
            .failure_reason
            .as_deref()
            .is_some_and(|r| r.contains("cannot create the invoice")),
        "{request:?}"
    );
    assert_eq!(
        app.event_types(&request.id).await,
        ["payment_request.failed"]
    );
    node.stop().await;
    chain.shutdown().await;
}
