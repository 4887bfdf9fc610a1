//! Subscriber consent between real LDK nodes (issue 13): a payer subscribes
//! with a merchant's code over the peer connection (`pushbill payer
//! subscribe`, the real command line), pays only invoices that commit to
//! one of its grants and fit its caps, holds the rest for approval, and
//! revokes; the merchant's books and events follow.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ln_node::{Node, RefuseIncoming};
use payer::state::{GrantStatus, Status};
use push_protocol::grant::{GrantId, committed_grant};
use push_protocol::handler::PushMessage;
use push_protocol::wire::{PushId, PushInvoice, ReplyStatus};
use serde_json::json;

use crate::support::deployment::{
    Deployment, loopback, payer_command, payer_options, payer_with_channel,
};
use crate::support::ln::{node_config, wait_for};

/// The subscriber's grant as its payer holds it (the only one).
fn only_grant(payer: &payer::Payer) -> payer::state::Grant {
    let grants = payer.state().grants;
    assert_eq!(grants.len(), 1, "{grants:?}");
    grants[0].clone()
}

/// What became of the payment of `invoice_number` at the payer.
fn payment_status(payer: &payer::Payer, invoice_number: &str) -> Option<Status> {
    payer
        .state()
        .payments
        .values()
        .find(|p| p.invoice_number == invoice_number)
        .map(|p| p.status)
}

/// Pushes `bolt11` to `to` from `relay` (not its signer) and returns the answer.
async fn relay_push(
    relay: &Arc<Node>,
    to: &payer::Payer,
    bolt11: String,
    amount_msat: u64,
) -> ReplyStatus {
    let to = to.node().node_id();
    let push = PushInvoice {
        push_id: PushId::random(),
        invoice: bolt11,
        amount_msat,
        merchant_name: "Relayed".into(),
        invoice_number: format!("R-{}", rand::random::<u32>()),
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

/// The attack of issue 13: merchant B of the same deployment pushes an
/// invoice to A's subscriber (B typed in the subscriber's node id): the
/// deployment's node signs it, but it commits to no grant of the subscriber,
/// so it is held, not paid, while A's invoice is paid. A relay carrying a
/// validly signed invoice that commits to no grant, to another subscriber's
/// grant, or (signed by the relay) to this subscriber's grant, gets nothing paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_merchant_holding_the_grant_is_paid() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shop_a = deployment.merchant("Shop", "SHOP").await;
    let shop_b = deployment.merchant("Mallory", "MAL").await;

    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&deployment, dir.path(), payer_options(app)).await;
    let plan = shop_a.monthly_plan().await;
    let code = deployment
        .subscribe_code(&shop_a, json!({"plan": plan}))
        .await;
    let out = payer_command(dir.path(), &["subscribe", &code, "--yes"], "")
        .await
        .unwrap();
    assert!(out.contains("Subscribed"), "{out}");
    let grant = only_grant(&payer);
    assert_eq!(grant.status, GrantStatus::Active);
    let sub_id = grant.subscription_id.clone().expect("a subscription");

    // A's first invoice commits to the grant and is paid.
    deployment.issue().await;
    let first = app.invoices_of(&sub_id).await.remove(0);
    let bolt11 = deployment.bolt11(&first.id).await;
    let signed = lightning_invoice::Bolt11Invoice::from_str(&bolt11).unwrap();
    let description = match signed.description() {
        lightning_invoice::Bolt11InvoiceDescriptionRef::Direct(d) => d.as_inner().0.clone(),
        lightning_invoice::Bolt11InvoiceDescriptionRef::Hash(_) => panic!("a direct description"),
    };
    assert_eq!(
        committed_grant(&description).map(|g| g.to_hex()),
        Some(grant.id.clone())
    );
    assert_eq!(deployment.push(&first.id).await.status, "accepted");
    deployment.wait_paid(&first.id).await;

    // B makes a customer with the subscriber's node id and address and
    // pushes a one-off of 3,000 sat: held, not paid, whatever the grant's room.
    let node_id = payer.node().node_id().to_string();
    let victim = deployment
        .typed_customer(&shop_b.merchant_id, &node_id, payer.node().listen_addr())
        .await;
    assert!(!victim.node_id_verified);
    let theirs = deployment
        .one_off_invoice(&shop_b.merchant_id, &victim.id, 3_000)
        .await;
    let push = deployment.push(&theirs.id).await;
    assert_eq!(push.status, "pending_approval");
    assert_eq!(
        payment_status(&payer, &theirs.number),
        Some(Status::PendingApproval)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.invoice(&theirs.id).await.status, "open");
    let spent = payer.state().spent_and_left(&only_grant(&payer), app.now());
    assert_eq!(spent.0, 10_000_000, "only A's invoice is counted");

    // A second subscriber with a grant for A: its invoice commits to its grant.
    let other_dir = tempfile::tempdir().unwrap();
    let other = payer_with_channel(&deployment, other_dir.path(), payer_options(app)).await;
    let code = deployment
        .subscribe_code(&shop_a, json!({"plan": plan}))
        .await;
    payer_command(other_dir.path(), &["subscribe", &code, "--yes"], "")
        .await
        .unwrap();
    let other_grant = only_grant(&other);
    assert_ne!(other_grant.id, grant.id);
    deployment.issue().await;
    let other_invoice = app
        .invoices_of(other_grant.subscription_id.as_deref().unwrap())
        .await
        .remove(0);
    let other_bolt11 = deployment.bolt11(&other_invoice.id).await;

    // A relay node connected to the subscriber.
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Node::start(
        node_config(&deployment.chain, relay_dir.path(), loopback()),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    relay
        .connect_peer(payer.node().node_id(), payer.node().listen_addr())
        .await
        .unwrap();
    // B's invoice again, through the relay: it commits to no grant.
    let b_bolt11 = deployment.bolt11(&theirs.id).await;
    assert_eq!(
        relay_push(&relay, &payer, b_bolt11, 3_000_000).await,
        ReplyStatus::PendingApproval
    );
    // The other subscriber's invoice: its grant is none of this payer's.
    assert_eq!(
        relay_push(&relay, &payer, other_bolt11, 10_000_000).await,
        ReplyStatus::PendingApproval
    );
    // The relay's own invoice naming this subscriber's grant: wrong payee.
    let forged_description = format!("Shop\npushbill-grant:{}", grant.id);
    assert_eq!(
        committed_grant(&forged_description),
        GrantId::from_hex(&grant.id)
    );
    let forged = relay
        .create_invoice(
            1_000_000,
            &forged_description,
            Duration::from_secs(600),
            None,
        )
        .unwrap();
    assert_eq!(
        relay_push(&relay, &payer, forged.bolt11, 1_000_000).await,
        ReplyStatus::PendingApproval
    );
    let state = payer.state();
    let paid: Vec<_> = state
        .payments
        .values()
        .filter(|p| matches!(p.status, Status::Paid | Status::Paying))
        .collect();
    assert_eq!(paid.len(), 1, "only A's invoice: {paid:?}");
    assert_eq!(paid[0].invoice_number, first.number);
    let held: Vec<_> = state
        .payments
        .values()
        .filter(|p| p.status == Status::PendingApproval)
        .map(|p| p.reason.clone().unwrap_or_default())
        .collect();
    // B's invoice relayed is the payment hash held already: answered, not
    // recorded twice.
    assert_eq!(held.len(), 3, "{held:?}");
    assert!(
        held.iter().any(|r| r.contains("commits to none")),
        "{held:?}"
    );
    assert!(
        held.iter()
            .any(|r| r.contains(&format!("names grant {}", other_grant.id))),
        "{held:?}"
    );
    assert!(
        held.iter().any(|r| r.contains("for another payee")),
        "{held:?}"
    );
    assert_eq!(app.invoice(&theirs.id).await.status, "open");
    assert_eq!(app.invoice(&other_invoice.id).await.status, "open");

    relay.stop().await;
    other.stop().await;
    payer.stop().await;
    deployment.stop().await;
}

/// The handshake end to end: a plan's code, `payer subscribe CODE` with the
/// terms printed and answered "y", the customer with the proven node id;
/// three months of the test clock give three invoices, each pushed and
/// paid inside the grant; `grants revoke` makes the subscription cancel at
/// the end of its period, with its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_by_code_is_paid_for_three_months_then_revoked() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shop = deployment.merchant("Bobflix", "BOB").await;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&deployment, dir.path(), payer_options(app)).await;
    let plan = shop.monthly_plan().await;
    let code = deployment
        .subscribe_code(&shop, json!({"plan": plan}))
        .await;

    // "n": nothing is given.
    let out = payer_command(dir.path(), &["subscribe", &code], "n\n")
        .await
        .unwrap();
    assert!(out.contains("Not subscribed"), "{out}");
    assert!(payer.state().grants.is_empty());

    let out = payer_command(dir.path(), &["subscribe", &code, "--label", "video"], "y\n")
        .await
        .unwrap();
    for shown in [
        "Merchant:     Bobflix",
        "Plan:         Monthly",
        "Amount:       10,000 sat every",
        "Due now:      10,000 sat",
        "Suggested:    a cap of 10,000 sat per month",
        "Subscribe? [y/N]",
        "Subscribed: grant",
    ] {
        assert!(out.contains(shown), "{shown:?} in {out}");
    }
    let grant = only_grant(&payer);
    assert_eq!(grant.status, GrantStatus::Active);
    assert_eq!(grant.label.as_deref(), Some("video"));
    assert_eq!(grant.payee, deployment.node.node_id().to_string());
    let sub_id = grant.subscription_id.clone().expect("subscription");
    let customer_id = grant.customer_id.clone().expect("customer");
    let customer = deployment.customer(&customer_id).await;
    assert_eq!(
        customer.node_id.as_deref(),
        Some(payer.node().node_id().to_string().as_str())
    );
    assert!(customer.node_id_verified);

    // Three months: an invoice each, pushed and paid inside the grant.
    for month in 0..3 {
        if month > 0 {
            app.advance(chrono::Duration::days(31)).await;
        }
        deployment.issue().await;
        let invoices = app.invoices_of(&sub_id).await;
        assert_eq!(invoices.len(), month + 1, "month {month}");
        let invoice = invoices
            .iter()
            .find(|i| i.status == "open")
            .expect("an open invoice");
        let push = deployment.push(&invoice.id).await;
        assert_eq!(push.status, "accepted", "month {month}");
        deployment.wait_paid(&invoice.id).await;
        let types = app.event_types(&invoice.id).await;
        let pushed = types.iter().position(|t| t == "invoice.pushed");
        let paid = types.iter().position(|t| t == "invoice.paid");
        assert!(pushed.is_some() && pushed < paid, "{types:?}");
    }
    // The merchant has the money; the payer records it when LDK says so.
    wait_for("the payer to see three paid", || async {
        let state = payer.state();
        state
            .payments
            .values()
            .filter(|p| p.status == Status::Paid)
            .count()
            == 3
    })
    .await;
    let state = payer.state();
    let paid: Vec<_> = state
        .payments
        .values()
        .filter(|p| p.status == Status::Paid)
        .collect();
    assert_eq!(paid.len(), 3);
    assert!(
        paid.iter()
            .all(|p| p.grant_id.as_deref() == Some(grant.id.as_str()))
    );
    assert!(state.payments.values().all(|p| p.status == Status::Paid));

    // Revoked by the subscriber: the merchant is told and acknowledges.
    let out = payer_command(dir.path(), &["grants", "revoke", &grant.id[..8]], "")
        .await
        .unwrap();
    assert!(out.contains("ended"), "{out}");
    assert_eq!(only_grant(&payer).status, GrantStatus::Ended);
    wait_for("the merchant's ack", || async {
        !only_grant(&payer).end_notice_pending
    })
    .await;
    let subscription = app.subscription(&sub_id).await;
    assert!(subscription.cancel_at_period_end, "{subscription:?}");
    assert_eq!(subscription.status, "active");
    let types = app.event_types(&sub_id).await;
    assert!(
        types.iter().any(|t| t == "subscription.updated"),
        "{types:?}"
    );

    payer.stop().await;
    deployment.stop().await;
}

/// The merchant cancels the subscription: its node tells the payer, which
/// ends the grant (ended by the merchant) and acknowledges; a later invoice
/// naming the grant is held, not paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_the_merchant_cancels_ends_the_payers_grant() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shop = deployment.merchant("Bobflix", "BOB").await;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&deployment, dir.path(), payer_options(app)).await;
    let plan = shop.monthly_plan().await;
    let code = deployment
        .subscribe_code(&shop, json!({"plan": plan}))
        .await;
    payer_command(dir.path(), &["subscribe", &code, "--yes"], "")
        .await
        .unwrap();
    let grant = only_grant(&payer);
    let sub_id = grant.subscription_id.clone().unwrap();
    deployment.issue().await;
    let first = app.invoices_of(&sub_id).await.remove(0);
    let bolt11 = deployment.bolt11(&first.id).await;

    let reply = shop
        .post(&format!("/v1/subscriptions/{sub_id}/cancel"), json!({}))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    wait_for("the grant's end at the payer", || async {
        only_grant(&payer).status == GrantStatus::Ended
    })
    .await;
    let ended = only_grant(&payer);
    assert_eq!(ended.ended_by, Some(payer::state::EndedBy::Merchant));
    assert!(!ended.end_notice_pending, "nothing for the payer to tell");
    // The first invoice (it names the grant) arrives after the end: held.
    let relay_dir = tempfile::tempdir().unwrap();
    let relay = Node::start(
        node_config(&deployment.chain, relay_dir.path(), loopback()),
        Arc::new(RefuseIncoming),
    )
    .await
    .unwrap();
    relay
        .connect_peer(payer.node().node_id(), payer.node().listen_addr())
        .await
        .unwrap();
    assert_eq!(
        relay_push(&relay, &payer, bolt11, first.amount_msat as u64).await,
        ReplyStatus::PendingApproval
    );
    let held = payer.state();
    let payment = held.payments.values().next().unwrap();
    assert!(
        payment.reason.as_deref().unwrap().contains("is not live"),
        "{payment:?}"
    );

    relay.stop().await;
    payer.stop().await;
    deployment.stop().await;
}

/// Use case 1: a one-off request to a node without a grant is held;
/// `payer approve` (by invoice number) pays it and the merchant sees it paid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_a_grant_is_held_until_approved() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shop = deployment.merchant("Bobflix", "BOB").await;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&deployment, dir.path(), payer_options(app)).await;
    let customer = deployment
        .typed_customer(
            &shop.merchant_id,
            &payer.node().node_id().to_string(),
            payer.node().listen_addr(),
        )
        .await;
    let invoice = deployment
        .one_off_invoice(&shop.merchant_id, &customer.id, 2_500)
        .await;
    assert_eq!(
        deployment.push(&invoice.id).await.status,
        "pending_approval"
    );
    let event = deployment.event(&invoice.id, "invoice.pushed").await;
    assert_eq!(event["push"]["status"], "pending_approval");
    let pending = payer_command(dir.path(), &["pending"], "").await.unwrap();
    assert!(
        pending.contains(&invoice.number) && pending.contains("2,500 sat"),
        "{pending}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.invoice(&invoice.id).await.status, "open");

    let out = payer_command(dir.path(), &["approve", &invoice.number], "")
        .await
        .unwrap();
    assert!(out.starts_with("approved push"), "{out}");
    deployment.wait_paid(&invoice.id).await;
    let sender = deployment.sender();
    wait_for("the paid answer", || async {
        sender.run_once().await.unwrap();
        deployment.pushes(&invoice.id).await[0].status == "paid"
    })
    .await;
    assert_eq!(payment_status(&payer, &invoice.number), Some(Status::Paid));
    // Approving again is refused, and names why.
    let again = payer_command(dir.path(), &["approve", &invoice.number], "")
        .await
        .unwrap_err();
    assert!(again.to_string().contains("paid, not waiting"), "{again}");

    payer.stop().await;
    deployment.stop().await;
}

/// Use case 3, streaming: an account grant of 1,000 sat per minute for the
/// next hour; 50 pushes of 20 sat in one minute are paid, the 51st in that
/// minute is held, payments resume the next minute, and nothing is paid
/// after the hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_per_minute_grant_pays_a_stream_for_an_hour() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let shop = deployment.merchant("Streamer", "STR").await;
    let dir = tempfile::tempdir().unwrap();
    let payer = payer_with_channel(&deployment, dir.path(), payer_options(app)).await;
    let reply = shop
        .post("/v1/customers", json!({"email": "s@example.com"}))
        .await;
    let customer = reply.id();
    let code = deployment
        .subscribe_code(
            &shop,
            json!({"customer": customer, "cap_msat": 1_000_000, "window": "minute"}),
        )
        .await;
    let until = (app.now() + chrono::Duration::hours(1)).to_rfc3339();
    let out = payer_command(
        dir.path(),
        &["subscribe", &code, "--until", &until, "--yes"],
        "",
    )
    .await
    .unwrap();
    assert!(out.contains("Subscribed"), "{out}");
    let grant = only_grant(&payer);
    assert_eq!(
        (grant.cap_msat, grant.window),
        (1_000_000, payer::state::Window::Minute)
    );

    // Invoices of 20 sat, pushed as they are issued (many per round).
    let stream = |n: usize| {
        let deployment = &deployment;
        let shop = &shop;
        let customer = customer.clone();
        async move {
            let mut invoices = Vec::new();
            for _ in 0..n {
                invoices.push(
                    pushbill::billing::invoicing::create_one_off(
                        &deployment.app.db,
                        deployment.app.now(),
                        &shop.merchant_id,
                        &customer,
                        crate::support::app::sat(20),
                        Some("a minute of video".into()),
                        chrono::Duration::days(1),
                    )
                    .await
                    .unwrap(),
                );
            }
            deployment.issue().await;
            let mut statuses = Vec::new();
            for invoice in &invoices {
                statuses.push(deployment.push(&invoice.id).await.status);
            }
            (invoices, statuses)
        }
    };
    let (minute_one, statuses) = stream(51).await;
    // Accepted, and `paid` once the later rounds have recorded the answer.
    let inside = |s: &String| s == "accepted" || s == "paid";
    assert!(statuses[..50].iter().all(inside), "{statuses:?}");
    assert_eq!(statuses[50], "pending_approval");
    for invoice in &minute_one[..50] {
        deployment.wait_paid(&invoice.id).await;
    }
    assert_eq!(app.invoice(&minute_one[50].id).await.status, "open");

    // The next minute: paid again.
    app.advance(chrono::Duration::minutes(1)).await;
    let (next, statuses) = stream(1).await;
    assert!(statuses.iter().all(inside), "{statuses:?}");
    deployment.wait_paid(&next[0].id).await;

    // After the hour: nothing is paid.
    app.advance(chrono::Duration::minutes(60)).await;
    let (late, statuses) = stream(1).await;
    assert_eq!(statuses, ["pending_approval"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.invoice(&late[0].id).await.status, "open");
    let paid = || {
        payer
            .state()
            .payments
            .values()
            .filter(|p| matches!(p.status, Status::Paid | Status::Paying))
            .count()
    };
    assert_eq!(paid(), 51, "50 in the first minute, 1 in the next");
    wait_for("the payer to see them paid", || async {
        payer
            .state()
            .payments
            .values()
            .filter(|p| p.status == Status::Paid)
            .count()
            == 51
    })
    .await;

    payer.stop().await;
    deployment.stop().await;
}
