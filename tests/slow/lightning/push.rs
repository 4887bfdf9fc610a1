//! Push invoices between real LDK nodes over TCP on loopback, on the chain
//! simulator: the merchant's node role pushes each payment request's BOLT11
//! to the customer's node, where `pushbill payer` pays it inside the grant
//! it committed to, or holds it for approval; the books and the events
//! follow. (Who may be paid at all: consent.rs.)

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ln_node::{Node, RefuseIncoming};
use payer::Payer;
use payer::state::Status;
use push_protocol::handler::PushMessage;
use push_protocol::wire::{PushId, PushInvoice, RejectReason, ReplyStatus};
use pushbill::catalog::{self, customers::NewCustomer};
use serde_json::json;

use crate::support::app::Api;
use crate::support::deployment::{
    Deployment, loopback, payer_command, payer_options, payer_with_channel, policy,
};
use crate::support::ln::{node_config, wait_for};
use pushbill::node::push_sender::{PushPolicy, PushSender};

/// Subscribes the payer in `dir` to a monthly plan of `shop` with a cap of
/// `cap_sat` a month, through the real `payer subscribe`; the subscription id.
async fn subscribe_monthly(
    deployment: &Deployment,
    shop: &Api,
    payer: &Payer,
    dir: &std::path::Path,
    cap_sat: u64,
) -> String {
    let plan = shop.monthly_plan().await;
    let code = deployment.subscribe_code(shop, json!({"plan": plan})).await;
    let cap = cap_sat.to_string();
    payer_command(
        dir,
        &[
            "subscribe",
            &code,
            "--cap-sat",
            &cap,
            "--per",
            "month",
            "--yes",
        ],
        "",
    )
    .await
    .unwrap();
    let grants = payer.state().grants;
    assert_eq!(grants.len(), 1);
    grants[0].subscription_id.clone().expect("a subscription")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_subscription_invoice_is_paid_inside_the_grant_once() {
    let shop = Deployment::open().await;
    let app = &shop.app;
    let api = shop.merchant("Bobflix", "BOB").await;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&shop, dir.path(), payer_options(app)).await;
    let sub_id = subscribe_monthly(&shop, &api, &payer, dir.path(), 50_000).await;
    shop.issue().await;
    let invoice = app.invoices_of(&sub_id).await.remove(0);
    assert_eq!(invoice.amount_msat, 10_000_000);
    let customer = shop.customer(&invoice.customer_id).await;
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
    shop.wait_paid(&invoice.id).await;
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
    assert_eq!(
        payment.grant_id.as_deref(),
        Some(state.grants[0].id.as_str())
    );

    // Once the invoice is paid, a push still queued for it is dropped, not sent.
    let dropped = shop.resend(&shop.pushes(&invoice.id).await[0]).await;
    assert_eq!(dropped.status, "dropped");
    assert_eq!(dropped.reason.as_deref(), Some("invoice_paid"));

    payer.stop().await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_over_the_grant_wait_for_approval_and_a_decline_is_answered() {
    let shop = Deployment::open().await;
    let app = &shop.app;
    let api = shop.merchant("Bobflix", "BOB").await;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&shop, dir.path(), payer_options(app)).await;
    // An account grant of 5,000 sat a month: a one-off of 6,000 sat is over it.
    let customer = api
        .post("/v1/customers", json!({"email": "alice@example.com"}))
        .await
        .id();
    let code = shop
        .subscribe_code(
            &api,
            json!({"customer": customer, "cap_msat": 5_000_000, "window": "month"}),
        )
        .await;
    payer_command(dir.path(), &["subscribe", &code, "--yes"], "")
        .await
        .unwrap();
    let big = shop
        .one_off_invoice(&api.merchant_id, &customer, 6_000)
        .await;
    let push = shop.push(&big.id).await;
    assert_eq!(push.status, "pending_approval");
    let event = shop.event(&big.id, "invoice.pushed").await;
    assert_eq!(event["push"]["status"], "pending_approval");
    let held = payer.state();
    let (_, payment) = held.payments.iter().next().unwrap();
    assert_eq!(payment.status, Status::PendingApproval);
    assert!(
        payment.reason.as_deref().unwrap().contains("over the cap"),
        "{payment:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.invoice(&big.id).await.status, "open");

    // Approved by the subscriber, by the first 8 hex digits of the push id:
    // paid, and the grant is still whole.
    let out = payer_command(dir.path(), &["approve", &payment.push_id[..8]], "")
        .await
        .unwrap();
    assert!(out.starts_with("approved"), "{out}");
    shop.wait_paid(&big.id).await;
    let sender = shop.sender();
    wait_for("the paid answer", || async {
        sender.run_once().await.unwrap();
        shop.pushes(&big.id).await[0].status == "paid"
    })
    .await;
    let state = payer.state();
    assert_eq!(
        state.spent_and_left(&state.grants[0], app.now()),
        (0, 5_000_000)
    );
    let small = shop
        .one_off_invoice(&api.merchant_id, &customer, 5_000)
        .await;
    assert_eq!(shop.push(&small.id).await.status, "accepted");
    shop.wait_paid(&small.id).await;

    // A relay delivers a push whose amount differs from its invoice's: refused.
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
    let own = relay
        .create_invoice(1_000_000, "relay", Duration::from_secs(600), None)
        .unwrap();
    let to = payer.node().node_id();
    let push = PushInvoice {
        push_id: PushId::random(),
        invoice: own.bolt11,
        amount_msat: 2_000_000,
        merchant_name: "Relayed".into(),
        invoice_number: "R-1".into(),
        plan_name: None,
        period_start: None,
        period_end: None,
    };
    let reply = relay.expect_push_reply(push.push_id, to);
    relay.send_push_message(to, PushMessage::Invoice(push));
    let reply = tokio::time::timeout(Duration::from_secs(20), reply)
        .await
        .expect("a reply")
        .unwrap();
    assert_eq!(
        reply.status,
        ReplyStatus::Rejected(RejectReason::AmountMismatch)
    );
    relay.stop().await;

    // Over the grant now that it is spent; declined by the subscriber (by
    // invoice number): the merchant hears it afterwards.
    let fourth = shop
        .one_off_invoice(&api.merchant_id, &customer, 1_000)
        .await;
    assert_eq!(shop.push(&fourth.id).await.status, "pending_approval");
    payer_command(dir.path(), &["reject", &fourth.number], "")
        .await
        .unwrap();
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
    let shop = Deployment::open().await;
    let app = &shop.app;
    let merchant = shop.merchant("Bobflix", "BOB").await.merchant_id;
    // A Lightning node that does not take push invoices.
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = Node::start(
        node_config(&shop.chain, plain_dir.path(), loopback()),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    let customer = shop
        .typed_customer(&merchant, &plain.node_id().to_string(), plain.listen_addr())
        .await;
    let invoice = shop.one_off_invoice(&merchant, &customer.id, 1_000).await;
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
    let customer = shop
        .typed_customer(&merchant, &offline_id, offline_addr)
        .await;
    let invoice = shop.one_off_invoice(&merchant, &customer.id, 1_000).await;
    let push = shop.push(&invoice.id).await;
    assert_eq!(push.status, "failed");
    assert_eq!(push.tries, policy().max_tries);
    assert_eq!(push.reason.as_deref(), Some("unreachable"));
    assert_eq!(
        app.event_types(&invoice.id).await,
        ["invoice.created", "invoice.push_failed"]
    );

    // A customer without a node gets no push at all.
    let no_node = catalog::customers::create(&app.db, app.now(), &merchant, NewCustomer::default())
        .await
        .unwrap();
    let invoice = shop.one_off_invoice(&merchant, &no_node.id, 1_000).await;
    assert!(shop.pushes(&invoice.id).await.is_empty());

    plain.stop().await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payer_restarted_between_accepting_and_paid_pays_once() {
    let shop = Deployment::open().await;
    let app = &shop.app;
    let api = shop.merchant("Bobflix", "BOB").await;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&shop, dir.path(), payer_options(app)).await;
    let sub_id = subscribe_monthly(&shop, &api, &payer, dir.path(), 50_000).await;

    // The merchant's books hold the payment: it stays in flight.
    shop.books.open.store(false, Ordering::SeqCst);
    shop.issue().await;
    let invoice = app.invoices_of(&sub_id).await.remove(0);
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
    let payer = Payer::start_with(
        dir.path().to_owned(),
        node_config(&shop.chain, dir.path(), loopback()),
        payer_options(app),
    )
    .await
    .expect("payer again");
    let node = payer.node();
    let merchant_id = shop.node.node_id();
    wait_for("the channel back", || async {
        node.list_channels().iter().any(|c| c.is_usable)
            && shop.node.peer_supports_push(&node.node_id()) == Some(true)
            && node.peer_supports_push(&merchant_id).is_some()
    })
    .await;
    let again = shop.resend(&push).await;
    assert_eq!(again.status, "accepted");
    assert_eq!(payer.state().payments.len(), 1);

    // The books open: the one payment completes.
    shop.books.open.store(true, Ordering::SeqCst);
    shop.wait_paid(&invoice.id).await;
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
    assert_eq!(paid.amount_received_msat, Some(10_000_000));

    payer.stop().await;
    shop.stop().await;
}

/// The BOLT11 of the invoice's first payment request.
async fn bolt11_of(shop: &Deployment, invoice_id: &str) -> lightning_invoice::Bolt11Invoice {
    shop.bolt11(invoice_id).await.parse().expect("a BOLT11")
}

/// Gives the payer in `dir` an account grant of 50,000 sat a month for a new
/// customer of `api`'s merchant (an account code); the customer's id.
async fn account_grant(shop: &Deployment, api: &Api, dir: &std::path::Path) -> String {
    let customer = api
        .post("/v1/customers", json!({"email": "alice@example.com"}))
        .await
        .id();
    let code = shop
        .subscribe_code(
            api,
            json!({"customer": customer, "cap_msat": 50_000_000, "window": "month"}),
        )
        .await;
    payer_command(dir, &["subscribe", &code, "--yes"], "")
        .await
        .unwrap();
    customer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_invoice_names_no_other_customer_in_its_route_hints() {
    let shop = Deployment::open().await;
    let app = &shop.app;
    let api = shop.merchant("Bobflix", "BOB").await;
    let (dir_1, dir_2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let payer_1 = payer_with_channel(&shop, dir_1.path(), payer_options(app)).await;
    let payer_2 = payer_with_channel(&shop, dir_2.path(), payer_options(app)).await;
    let customer_1 = account_grant(&shop, &api, dir_1.path()).await;
    let (node_1, node_2) = (payer_1.node().node_id(), payer_2.node().node_id());
    let with_2 = shop
        .node
        .list_channels()
        .into_iter()
        .filter(|c| c.counterparty_node_id == node_2.to_string() && c.is_usable)
        .count();
    assert_eq!(with_2, 1, "a usable channel with customer 2");
    shop.typed_customer(
        &api.merchant_id,
        &node_2.to_string(),
        payer_2.node().listen_addr(),
    )
    .await;

    // Pushed to customer 1: one hint, its own channel into the merchant's
    // node; nothing names customer 2 (a hint for its channel would start
    // at its node).
    let invoice = shop
        .one_off_invoice(&api.merchant_id, &customer_1, 3_000)
        .await;
    let bolt11 = bolt11_of(&shop, &invoice.id).await;
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
    shop.wait_paid(&invoice.id).await;

    // A customer without a node (the pay page's): no route hints at all.
    let no_node =
        catalog::customers::create(&app.db, app.now(), &api.merchant_id, NewCustomer::default())
            .await
            .unwrap();
    let invoice = shop
        .one_off_invoice(&api.merchant_id, &no_node.id, 1_000)
        .await;
    assert!(bolt11_of(&shop, &invoice.id).await.route_hints().is_empty());

    payer_1.stop().await;
    payer_2.stop().await;
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_subscriber_delays_only_its_own_push() {
    let shop = Deployment::open().await;
    let app = &shop.app;
    let api = shop.merchant("Bobflix", "BOB").await;
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
    let payer = payer_with_channel(&shop, dir.path(), payer_options(app)).await;
    let customer = account_grant(&shop, &api, dir.path()).await;
    let silent_customer = shop
        .typed_customer(
            &api.merchant_id,
            &silent.node_id().to_string(),
            silent.listen_addr(),
        )
        .await;
    // The silent one is queued first. The good one's description is 500
    // emoji (2,000 bytes): the push carries it cut to 1,024 bytes, which
    // the payer takes (it drops a longer one, unanswered).
    let unanswered = shop
        .one_off_invoice(&api.merchant_id, &silent_customer.id, 1_000)
        .await;
    let emoji = "\u{1F600}".repeat(500);
    let answered = shop
        .one_off_described(&api.merchant_id, &customer, 2_000, &emoji)
        .await;

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
    let sending = tokio::spawn(pushbill::node::send_loop::run(
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
    shop.wait_paid(&answered.id).await;

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
