//! The subscribe handshake and grant ends between real LDK nodes over TCP
//! on loopback: the merchant's node role answers a minimal test peer (a
//! plain `ln_node::Node` taking grant messages) that sends what a payer
//! would. The end to end test with `pushbill payer` is the payer's.

use std::sync::Arc;
use std::time::Duration;

use bitcoin::secp256k1::PublicKey;
use ln_node::{Inboxes, Node, RefuseIncoming};
use push_protocol::grant::{GrantId, SubscribeCode};
use push_protocol::handler::IncomingGrantMessage;
use push_protocol::subscribe::{
    EndedBy, GrantEnd, GrantEndAck, GrantMessage, ResultStatus, SubscribeAccept, SubscribeRequest,
    TermsReply, Window,
};
use pushbill::node::grants::{self, GrantService};
use pushbill::node::issuer::BillingSink;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::app::spawn_app;
use crate::support::ln::{node_config, simnet};

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A node taking grant messages, and its inbox.
async fn grant_node(
    chain: &simnet::Simnet,
    dir: &std::path::Path,
    sink: Arc<dyn ln_node::PaymentSink>,
) -> (Arc<Node>, mpsc::UnboundedReceiver<IncomingGrantMessage>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let inboxes = Inboxes {
        pushes: None,
        grants: Some(tx),
    };
    let node = Node::start_with_inboxes(node_config(chain, dir, loopback()), sink, inboxes)
        .await
        .expect("node");
    (node, rx)
}

/// The next grant message, from `from`.
async fn next(
    inbox: &mut mpsc::UnboundedReceiver<IncomingGrantMessage>,
    from: PublicKey,
) -> GrantMessage {
    let (peer, message) = tokio::time::timeout(Duration::from_secs(30), inbox.recv())
        .await
        .expect("a message in time")
        .expect("an open inbox");
    assert_eq!(peer, from);
    message
}

#[tokio::test]
async fn a_peer_subscribes_revokes_and_is_told_of_the_merchant_ending_a_grant() {
    let chain = simnet().await;
    let app = spawn_app().await;
    let api = app.api().await;
    let merchant_dir = tempfile::tempdir().unwrap();
    let books = Arc::new(BillingSink {
        db: app.db.clone(),
        clock: app.clock.clone(),
    });
    let (merchant_node, merchant_inbox) = grant_node(&chain, merchant_dir.path(), books).await;
    pushbill::store::node_identity::record(
        &app.db,
        app.now(),
        &merchant_node.node_id().to_string(),
        &merchant_node.listen_addr().to_string(),
    )
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let service = GrantService {
        db: app.db.clone(),
        clock: app.clock.clone(),
        node: Arc::clone(&merchant_node),
    };
    tokio::spawn(grants::run(service, merchant_inbox, shutdown.clone()));

    let peer_dir = tempfile::tempdir().unwrap();
    let (peer, mut inbox) = grant_node(&chain, peer_dir.path(), Arc::new(RefuseIncoming)).await;
    let merchant_id = merchant_node.node_id();

    // The code, as a subscriber would get it, parsed as a payer does.
    let plan = api.monthly_plan().await;
    let reply = api.post("/v1/subscribe_codes", json!({"plan": plan})).await;
    let code = SubscribeCode::parse(reply.body["code"].as_str().unwrap()).unwrap();
    assert_eq!(code.node_id, merchant_id.to_string());
    let address = code.address.parse().unwrap();
    peer.connect_peer(merchant_id, address).await.unwrap();

    let subscribe = |code: String| {
        let peer = Arc::clone(&peer);
        async move {
            let request = SubscribeRequest {
                code,
                node_address: Some(peer.listen_addr().to_string()),
            };
            peer.send_grant_message(merchant_id, GrantMessage::SubscribeRequest(request));
        }
    };
    subscribe(code.code.clone()).await;
    let GrantMessage::SubscribeTerms(terms) = next(&mut inbox, merchant_id).await else {
        panic!("terms expected")
    };
    let TermsReply::Offer(offer) = terms.reply else {
        panic!("an offer expected: {terms:?}")
    };
    assert_eq!(
        (offer.amount_msat, offer.window),
        (10_000_000, Window::Month)
    );
    let grant = GrantId::random();
    let accept = SubscribeAccept {
        offer_id: offer.offer_id,
        grant_id: grant,
        cap_msat: offer.cap_msat,
        window: offer.window,
        per_invoice_max_msat: None,
        ends_at: None,
        email: None,
    };
    peer.send_grant_message(merchant_id, GrantMessage::SubscribeAccept(accept.clone()));
    let GrantMessage::SubscribeResult(result) = next(&mut inbox, merchant_id).await else {
        panic!("a result expected")
    };
    assert_eq!(result.status, ResultStatus::Active, "{:?}", result.message);
    // The merchant knows the node the BOLT 8 handshake proved.
    let customer = api
        .get(&format!(
            "/v1/customers/{}",
            result.customer_id.clone().unwrap()
        ))
        .await;
    assert_eq!(customer.body["node_id"], peer.node_id().to_string());
    assert_eq!(customer.body["node_id_verified"], true);
    assert_eq!(
        customer.body["node_address"],
        format!("{}@{}", peer.node_id(), peer.listen_addr())
    );
    // Accepting again: the same answer.
    peer.send_grant_message(merchant_id, GrantMessage::SubscribeAccept(accept));
    assert_eq!(
        next(&mut inbox, merchant_id).await,
        GrantMessage::SubscribeResult(result.clone())
    );

    // The subscriber revokes: acknowledged, the subscription cancels at period end.
    let sub = result.subscription_id.clone().unwrap();
    peer.send_grant_message(
        merchant_id,
        GrantMessage::GrantEnd(GrantEnd {
            grant_id: grant,
            ended_by: EndedBy::Subscriber,
            message: None,
        }),
    );
    assert_eq!(
        next(&mut inbox, merchant_id).await,
        GrantMessage::GrantEndAck(GrantEndAck { grant_id: grant })
    );
    let s = api.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(s.body["cancel_at_period_end"], true);
    assert_eq!(
        app.event_types(&sub).await,
        ["subscription.created", "subscription.updated"]
    );

    // A second subscription, canceled by the merchant: the connected peer
    // is told, and its ack ends the notices.
    subscribe(code.code.clone()).await;
    let GrantMessage::SubscribeTerms(terms) = next(&mut inbox, merchant_id).await else {
        panic!("terms expected")
    };
    let TermsReply::Offer(offer) = terms.reply else {
        panic!("an offer expected")
    };
    let second = GrantId::random();
    peer.send_grant_message(
        merchant_id,
        GrantMessage::SubscribeAccept(SubscribeAccept {
            offer_id: offer.offer_id,
            grant_id: second,
            cap_msat: offer.cap_msat,
            window: offer.window,
            per_invoice_max_msat: None,
            ends_at: None,
            email: None,
        }),
    );
    let GrantMessage::SubscribeResult(result) = next(&mut inbox, merchant_id).await else {
        panic!("a result expected")
    };
    let second_sub = result.subscription_id.unwrap();
    let canceled = api
        .post(&format!("/v1/subscriptions/{second_sub}/cancel"), json!({}))
        .await;
    assert_eq!(canceled.status, 200);
    let GrantMessage::GrantEnd(end) = next(&mut inbox, merchant_id).await else {
        panic!("grant_end expected")
    };
    assert_eq!((end.grant_id, end.ended_by), (second, EndedBy::Merchant));
    peer.send_grant_message(
        merchant_id,
        GrantMessage::GrantEndAck(GrantEndAck { grant_id: second }),
    );
    crate::support::ln::wait_for("the ack recorded", || async {
        pushbill::billing::grants::pending_end_notices(&app.db)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    shutdown.cancel();
    peer.stop().await;
    merchant_node.stop().await;
}
