//! Subscribe codes, the merchant's side of the subscribe handshake (driven
//! through `node::subscribe` with a peer node id, as the node role's grant
//! loop calls it), grants in the API, their end, and the issuer's
//! commitment rule (docs/push-invoices.md section 4).

use chrono::Duration;
use serde_json::json;

use crate::support::app::{Api, NODE, RecordingIssuer, TestApp, spawn_app};
use push_protocol::grant::{GrantId, SubscribeCode, committed_grant};
use push_protocol::subscribe::{
    EndedBy, GrantEnd, Offer, ResultStatus, SubscribeAccept, SubscribeRequest, TermsReply, Window,
};
use pushbill::billing::{grants, payments};
use pushbill::domain::{Msat, NodeId};
use pushbill::node::{grants as node_grants, subscribe};

/// The merchant node's id as the node role records it.
const MERCHANT_NODE: &str = "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619";
/// Another subscriber's node.
const OTHER_NODE: &str = "03d902f35f560e0470c63313c7369168d9d7df2d49bf295fd9fb7cb109ccee0494";

/// What an accepted handshake made (from its `subscribe_result`).
struct Subscribed {
    customer: String,
    subscription: Option<String>,
}

async fn node_started(app: &TestApp) {
    pushbill::store::node_identity::record(&app.db, app.now(), MERCHANT_NODE, "127.0.0.1:9735")
        .await
        .unwrap();
}

fn subscriber() -> NodeId {
    NodeId::parse(NODE).unwrap()
}

/// A plan code's code part, made through the API.
async fn plan_code(api: &Api, plan: &str) -> String {
    let reply = api.post("/v1/subscribe_codes", json!({"plan": plan})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    SubscribeCode::parse(reply.body["code"].as_str().unwrap())
        .unwrap()
        .code
}

async fn offer(app: &TestApp, peer: &NodeId, code: &str) -> Offer {
    let request = SubscribeRequest {
        code: code.into(),
        node_address: Some("127.0.0.1:9736".into()),
    };
    let terms = subscribe::terms(&app.db, &app.context.clocks, peer, &request)
        .await
        .unwrap();
    assert_eq!(terms.code, code);
    match terms.reply {
        TermsReply::Offer(o) => o,
        TermsReply::Error(e) => panic!("terms refused: {e}"),
    }
}

fn accept_for(offer: &Offer, grant: GrantId, cap_msat: u64) -> SubscribeAccept {
    SubscribeAccept {
        offer_id: offer.offer_id,
        grant_id: grant,
        cap_msat,
        window: Window::Month,
        per_invoice_max_msat: None,
        ends_at: None,
        email: Some("sub@example.com".into()),
    }
}

/// A subscriber that went through the handshake for `plan`: (grant key, result).
async fn subscribed(app: &TestApp, api: &Api, plan: &str) -> (GrantId, Subscribed) {
    let code = plan_code(api, plan).await;
    let offer = offer(app, &subscriber(), &code).await;
    let grant = GrantId::random();
    let result = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&offer, grant, offer.amount_msat),
    )
    .await
    .unwrap();
    assert_eq!(result.status, ResultStatus::Active, "{:?}", result.message);
    let ids = Subscribed {
        customer: result.customer_id.clone().unwrap(),
        subscription: result.subscription_id.clone(),
    };
    (grant, ids)
}

#[tokio::test]
async fn subscribe_codes_name_the_node_and_check_their_fields() {
    let app = spawn_app().await;
    let api = app.api().await;
    let plan = api.monthly_plan().await;
    let before = api.post("/v1/subscribe_codes", json!({"plan": plan})).await;
    assert_eq!((before.status, before.code()), (409, "node_not_started"));
    node_started(&app).await;
    let reply = api.post("/v1/subscribe_codes", json!({"plan": plan})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["object"], "subscribe_code");
    assert_eq!(reply.body["plan"], plan.as_str());
    assert!(reply.body["customer"].is_null());
    let code = SubscribeCode::parse(reply.body["code"].as_str().unwrap()).unwrap();
    assert_eq!(code.node_id, MERCHANT_NODE);
    assert_eq!(code.address, "127.0.0.1:9735");
    let expires =
        chrono::DateTime::parse_from_rfc3339(reply.body["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!(expires.to_utc(), app.now() + Duration::days(30));
    let customer = api.customer().await;
    for (body, param) in [
        (json!({}), "plan"),
        (json!({"plan": plan, "customer": customer}), "customer"),
        (json!({"customer": customer}), "cap_msat"),
        (json!({"customer": customer, "cap_msat": 1000}), "window"),
        (
            json!({"customer": customer, "cap_msat": 1000, "window": "year"}),
            "window",
        ),
        (
            json!({"customer": customer, "cap_msat": 0, "window": "day"}),
            "cap_msat",
        ),
        (
            json!({"plan": plan, "expires_in_secs": 10}),
            "expires_in_secs",
        ),
        (json!({"plan": "plan_01hx5zzkbkactav9wevgemmvrz"}), "plan"),
        (json!({"plan": plan, "extra": 1}), "extra"),
    ] {
        let reply = api.post("/v1/subscribe_codes", body.clone()).await;
        assert_eq!(
            (reply.status, reply.param()),
            (400, param),
            "{body}: {:?}",
            reply.body
        );
    }
    let account = api
        .post(
            "/v1/subscribe_codes",
            json!({"customer": customer, "cap_msat": 5000, "window": "day", "expires_in_secs": 3600}),
        )
        .await;
    assert_eq!(account.status, 200, "{:?}", account.body);
    assert_eq!(account.body["cap_msat"], 5000);
    assert_eq!(account.body["window"], "day");
}

#[tokio::test]
async fn the_handshake_makes_a_verified_customer_a_subscription_and_a_grant() {
    let app = spawn_app().await;
    let api = app.api().await;
    node_started(&app).await;
    let plan = api.monthly_plan().await;
    let code = plan_code(&api, &plan).await;
    // Unknown code: terms with an error.
    let unknown = subscribe::terms(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &SubscribeRequest {
            code: "nosuchcodenosuchcodenosuch".into(),
            node_address: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(unknown.reply, TermsReply::Error("unknown code".into()));
    let offer = offer(&app, &subscriber(), &code).await;
    assert_eq!(offer.merchant_id, api.merchant_id);
    assert_eq!(offer.merchant_name, "Bobflix");
    assert_eq!(offer.description, "Monthly");
    assert_eq!(offer.amount_msat, 10_000_000);
    assert_eq!((offer.cap_msat, offer.window), (10_000_000, Window::Month));
    assert_eq!(offer.interval.as_deref(), Some("1 month"));
    assert_eq!(
        (offer.trial_days, offer.due_now_msat),
        (Some(0), Some(10_000_000))
    );
    // Asking again gets the same offer.
    assert_eq!(
        self::offer(&app, &subscriber(), &code).await.offer_id,
        offer.offer_id
    );

    let grant = GrantId::random();
    let other = NodeId::parse(OTHER_NODE).unwrap();
    let refused = |r: &push_protocol::subscribe::SubscribeResult| {
        (r.status, r.message.clone().unwrap_or_default())
    };
    // Another node cannot accept an offer made to this one.
    let stolen = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &other,
        &accept_for(&offer, grant, 10_000_000),
    )
    .await
    .unwrap();
    assert_eq!(
        refused(&stolen),
        (ResultStatus::Refused, "unknown offer".into())
    );
    let low = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&offer, grant, 9_999_999),
    )
    .await
    .unwrap();
    assert_eq!(low.status, ResultStatus::Refused);
    assert!(low.message.unwrap().contains("below the plan's amount"));

    let result = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&offer, grant, 10_000_000),
    )
    .await
    .unwrap();
    assert_eq!(result.status, ResultStatus::Active, "{:?}", result.message);
    let customer = result.customer_id.clone().unwrap();
    let sub = result.subscription_id.clone().unwrap();
    // The same accept again: the same answer; another grant id: refused.
    let again = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&offer, grant, 10_000_000),
    )
    .await
    .unwrap();
    assert_eq!(again, result);
    let reused = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&offer, GrantId::random(), 10_000_000),
    )
    .await
    .unwrap();
    assert_eq!(
        refused(&reused),
        (ResultStatus::Refused, "this offer has been used".into())
    );

    let c = api.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(c.body["node_id"], NODE);
    assert_eq!(c.body["node_id_verified"], true);
    assert_eq!(c.body["node_address"], format!("{NODE}@127.0.0.1:9736"));
    assert_eq!(c.body["email"], "sub@example.com");
    let s = api.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(
        (s.body["customer"].as_str(), s.body["status"].as_str()),
        (Some(customer.as_str()), Some("active"))
    );
    let list = api.get(&format!("/v1/grants?subscription={sub}")).await;
    assert_eq!(list.status, 200);
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    let g = &data[0];
    assert_eq!(g["object"], "grant");
    assert_eq!(g["grant_key"], grant.to_hex());
    assert_eq!(
        (g["customer"].as_str(), g["node_id"].as_str()),
        (Some(customer.as_str()), Some(NODE))
    );
    assert_eq!(
        (
            g["cap_msat"].as_i64(),
            g["window"].as_str(),
            g["status"].as_str()
        ),
        (Some(10_000_000), Some("month"), Some("active"))
    );
    let id = g["id"].as_str().unwrap();
    assert!(id.starts_with("grt_"));
    assert_eq!(api.get(&format!("/v1/grants/{id}")).await.body["id"], id);
    assert_eq!(
        api.get(&format!("/v1/grants?customer={customer}"))
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(app.event_types(id).await, ["grant.created"]);
    assert_eq!(app.event_types(&customer).await, ["customer.created"]);
    assert_eq!(app.event_types(&sub).await, ["subscription.created"]);
    // Another merchant sees none of it.
    let other_api = app.api().await;
    assert_eq!(other_api.get(&format!("/v1/grants/{id}")).await.status, 404);
    assert!(
        other_api.get("/v1/grants").await.body["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The same node subscribing again to the plan is the same customer.
    let (_, second) = subscribed(&app, &api, &plan).await;
    assert_eq!(second.customer, customer);
    assert_ne!(second.subscription.as_deref(), Some(sub.as_str()));
}

#[tokio::test]
async fn a_typed_in_node_id_is_not_verified_and_its_invoices_commit_to_no_grant() {
    let app = spawn_app().await;
    let shop = app.api().await;
    node_started(&app).await;
    let plan = shop.monthly_plan().await;
    let (grant, ids) = subscribed(&app, &shop, &plan).await;
    // A second merchant on the deployment types the subscriber's node id in
    // and bills a one-off invoice whose text tries to write the commitment.
    let hostile = app.api().await;
    let victim = hostile.customer().await;
    let c = hostile.get(&format!("/v1/customers/{victim}")).await;
    assert_eq!(
        (
            c.body["node_id"].as_str(),
            c.body["node_id_verified"].as_bool()
        ),
        (Some(NODE), Some(false))
    );
    let forged = format!("Lunch\npushbill-grant:{}", grant.to_hex());
    let invoice = pushbill::billing::invoicing::create_one_off(
        &app.db,
        app.now(),
        &hostile.merchant_id,
        &victim,
        Msat::from_msat(3_000_000).unwrap(),
        Some(forged.clone()),
        Duration::days(1),
    )
    .await
    .unwrap();
    let issuer = RecordingIssuer::new(&app);
    payments::issue_pending(&app.db, &issuer, app.now(), Duration::hours(1), 10)
        .await
        .unwrap();
    let asked = issuer.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    let hostile_pr = app.payment_requests_of(&invoice.id).await[0].id.clone();
    let request_of = |pr: &str| {
        asked
            .iter()
            .find(|a| a.payment_request_id == pr)
            .unwrap()
            .clone()
    };
    let hostile_request = request_of(&hostile_pr);
    assert_eq!(hostile_request.grant, None);
    assert_eq!(committed_grant(&hostile_request.description), None);
    assert!(
        !hostile_request.description.contains('\n'),
        "{:?}",
        hostile_request.description
    );
    assert!(
        hostile_request
            .description
            .ends_with(&format!("Lunch pushbill-grant:{}", grant.to_hex()))
    );
    // The shop's subscription invoice commits to the subscriber's grant.
    let sub = ids.subscription.unwrap();
    let shop_invoice = &app.invoices_of(&sub).await[0];
    let shop_pr = app.payment_requests_of(&shop_invoice.id).await[0]
        .id
        .clone();
    let shop_request = request_of(&shop_pr);
    assert_eq!(shop_request.grant, Some(grant));
    assert_eq!(committed_grant(&shop_request.description), Some(grant));
    assert!(shop_request.description.starts_with("Bobflix - Monthly - "));
    // The shop's one-off invoice for that customer has no account grant: none.
    let one_off = pushbill::billing::invoicing::create_one_off(
        &app.db,
        app.now(),
        &shop.merchant_id,
        &ids.customer,
        Msat::from_msat(1000).unwrap(),
        None,
        Duration::days(1),
    )
    .await
    .unwrap();
    let issuer = RecordingIssuer::new(&app);
    payments::issue_pending(&app.db, &issuer, app.now(), Duration::hours(1), 10)
        .await
        .unwrap();
    let asked = issuer.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(committed_grant(&asked[0].description), None, "{one_off:?}");
}

#[tokio::test]
async fn an_account_code_links_the_customer_once_and_covers_its_one_off_invoices() {
    let app = spawn_app().await;
    let api = app.api().await;
    node_started(&app).await;
    let customer = api.customer().await;
    let reply = api
        .post(
            "/v1/subscribe_codes",
            json!({"customer": customer, "cap_msat": 50_000_000, "window": "day"}),
        )
        .await;
    let code = SubscribeCode::parse(reply.body["code"].as_str().unwrap())
        .unwrap()
        .code;
    let offer = offer(&app, &subscriber(), &code).await;
    assert_eq!(
        (offer.amount_msat, offer.cap_msat, offer.window),
        (0, 50_000_000, Window::Day)
    );
    let grant = GrantId::random();
    let result = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&offer, grant, 20_000_000),
    )
    .await
    .unwrap();
    assert_eq!(result.status, ResultStatus::Active, "{:?}", result.message);
    assert_eq!(result.customer_id.as_deref(), Some(customer.as_str()));
    assert_eq!(result.subscription_id, None);
    assert_eq!(
        app.event_types(&customer).await,
        ["customer.created", "customer.updated"]
    );
    let c = api.get(&format!("/v1/customers/{customer}")).await;
    assert_eq!(c.body["node_id_verified"], true);
    // Used: no more terms for it.
    let again = subscribe::terms(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &SubscribeRequest {
            code: code.clone(),
            node_address: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        again.reply,
        TermsReply::Error("this code has been used".into())
    );
    let invoice = pushbill::billing::invoicing::create_one_off(
        &app.db,
        app.now(),
        &api.merchant_id,
        &customer,
        Msat::from_msat(2000).unwrap(),
        Some("Lunch".into()),
        Duration::days(1),
    )
    .await
    .unwrap();
    let issuer = RecordingIssuer::new(&app);
    payments::issue_pending(&app.db, &issuer, app.now(), Duration::hours(1), 10)
        .await
        .unwrap();
    let asked = issuer.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1, "{invoice:?}");
    assert_eq!(committed_grant(&asked[0].description), Some(grant));
    // The merchant changing the node id: not verified any more, no commitment.
    let changed = api
        .post(
            &format!("/v1/customers/{customer}"),
            json!({"node_id": OTHER_NODE, "node_address": null}),
        )
        .await;
    assert_eq!(
        changed.body["node_id_verified"], false,
        "{:?}",
        changed.body
    );
    let now = app.now();
    let invoice = app.invoice(&invoice.id).await;
    assert_eq!(
        grants::covering(&app.db, now, &invoice).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn the_subscriber_ending_a_grant_cancels_at_period_end_once() {
    let app = spawn_app().await;
    let api = app.api().await;
    node_started(&app).await;
    let plan = api.monthly_plan().await;
    let (grant, ids) = subscribed(&app, &api, &plan).await;
    let sub = ids.subscription.unwrap();
    let end = GrantEnd {
        grant_id: grant,
        ended_by: EndedBy::Subscriber,
        message: None,
    };
    // Another node naming the grant changes nothing.
    node_grants::subscriber_ended(
        &app.db,
        &app.context.clocks,
        &NodeId::parse(OTHER_NODE).unwrap(),
        &end,
    )
    .await
    .unwrap();
    let g = &api
        .get(&format!("/v1/grants?subscription={sub}"))
        .await
        .body["data"][0];
    assert_eq!(g["status"], "active");
    for _ in 0..2 {
        node_grants::subscriber_ended(&app.db, &app.context.clocks, &subscriber(), &end)
            .await
            .unwrap();
    }
    let g = api
        .get(&format!("/v1/grants?subscription={sub}"))
        .await
        .body["data"][0]
        .clone();
    assert_eq!(
        (g["status"].as_str(), g["ended_by"].as_str()),
        (Some("ended"), Some("subscriber"))
    );
    assert_eq!(g["end_notice_pending"], false);
    let s = api.get(&format!("/v1/subscriptions/{sub}")).await;
    assert_eq!(
        (
            s.body["status"].as_str(),
            s.body["cancel_at_period_end"].as_bool()
        ),
        (Some("active"), Some(true))
    );
    assert_eq!(
        app.event_types(&sub).await,
        ["subscription.created", "subscription.updated"]
    );
    assert_eq!(
        app.event_types(g["id"].as_str().unwrap()).await,
        ["grant.created", "grant.revoked"]
    );
    // No longer committed to.
    let invoice = &app.invoices_of(&sub).await[0];
    assert_eq!(
        grants::covering(&app.db, app.now(), invoice).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn the_merchant_canceling_ends_the_grant_until_the_subscriber_acknowledges() {
    let app = spawn_app().await;
    let api = app.api().await;
    node_started(&app).await;
    let plan = api.monthly_plan().await;
    let (grant, ids) = subscribed(&app, &api, &plan).await;
    let sub = ids.subscription.unwrap();
    let reply = api
        .post(
            &format!("/v1/subscriptions/{sub}/cancel"),
            json!({"at_period_end": true}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let g = api
        .get(&format!("/v1/grants?subscription={sub}"))
        .await
        .body["data"][0]
        .clone();
    assert_eq!(
        (g["status"].as_str(), g["ended_by"].as_str()),
        (Some("ended"), Some("merchant"))
    );
    assert_eq!(g["end_notice_pending"], true);
    assert_eq!(
        app.event_types(g["id"].as_str().unwrap()).await,
        ["grant.created", "grant.ended"]
    );
    let pending = grants::pending_end_notices(&app.db).await.unwrap();
    assert_eq!(pending.len(), 1);
    // An ack from another node does not count; the subscriber's does, once.
    assert!(
        !grants::acknowledge_end(&app.db, OTHER_NODE, &grant)
            .await
            .unwrap()
    );
    assert!(
        grants::acknowledge_end(&app.db, NODE, &grant)
            .await
            .unwrap()
    );
    assert!(
        !grants::acknowledge_end(&app.db, NODE, &grant)
            .await
            .unwrap()
    );
    assert!(
        grants::pending_end_notices(&app.db)
            .await
            .unwrap()
            .is_empty()
    );
    // Canceling now ends it too.
    let (_, second) = subscribed(&app, &api, &plan).await;
    let second_sub = second.subscription.unwrap();
    api.post(&format!("/v1/subscriptions/{second_sub}/cancel"), json!({}))
        .await;
    let g = api
        .get(&format!("/v1/grants?subscription={second_sub}"))
        .await
        .body["data"][0]
        .clone();
    assert_eq!(
        (g["status"].as_str(), g["end_notice_pending"].as_bool()),
        (Some("ended"), Some(true))
    );
}

#[tokio::test]
async fn an_accept_replayed_after_the_grant_ended_is_refused() {
    let app = spawn_app().await;
    let api = app.api().await;
    node_started(&app).await;
    let plan = api.monthly_plan().await;
    let code = plan_code(&api, &plan).await;
    let offer = offer(&app, &subscriber(), &code).await;
    let grant = GrantId::random();
    let accept = accept_for(&offer, grant, offer.amount_msat);
    let first = subscribe::accept(&app.db, &app.context.clocks, &subscriber(), &accept)
        .await
        .unwrap();
    assert_eq!(first.status, ResultStatus::Active, "{:?}", first.message);
    let end = GrantEnd {
        grant_id: grant,
        ended_by: EndedBy::Subscriber,
        message: None,
    };
    node_grants::subscriber_ended(&app.db, &app.context.clocks, &subscriber(), &end)
        .await
        .unwrap();
    // The same accept again no longer answers `active`: the payer would
    // take an ended grant for a live one.
    let again = subscribe::accept(&app.db, &app.context.clocks, &subscriber(), &accept)
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.message.as_deref()),
        (ResultStatus::Refused, Some("this grant has ended"))
    );
    let sub = first.subscription_id.unwrap();
    assert_eq!(
        api.get(&format!("/v1/grants?subscription={sub}"))
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "a refused replay makes nothing"
    );
}

async fn open_offers(app: &TestApp) -> u64 {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    pushbill::store::subscribe_offers::Entity::find()
        .filter(pushbill::store::subscribe_offers::Column::GrantKey.is_null())
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn offers_expire_after_an_hour_and_stale_ones_are_pruned() {
    let app = spawn_app().await;
    let api = app.api().await;
    node_started(&app).await;
    let plan = api.monthly_plan().await;
    let code = plan_code(&api, &plan).await;
    let stale = offer(&app, &subscriber(), &code).await;
    app.set_time(app.now() + Duration::hours(1)).await;
    let late = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&stale, GrantId::random(), stale.amount_msat),
    )
    .await
    .unwrap();
    assert_eq!(
        (late.status, late.message.as_deref()),
        (
            ResultStatus::Refused,
            Some("this offer has expired: ask for the terms again")
        )
    );
    // Asking again makes a new offer, and the stale one is gone.
    let fresh = offer(&app, &subscriber(), &code).await;
    assert_ne!(fresh.offer_id, stale.offer_id);
    assert_eq!(open_offers(&app).await, 1);
    let result = subscribe::accept(
        &app.db,
        &app.context.clocks,
        &subscriber(),
        &accept_for(&fresh, GrantId::random(), fresh.amount_msat),
    )
    .await
    .unwrap();
    assert_eq!(result.status, ResultStatus::Active, "{:?}", result.message);
}

#[tokio::test]
async fn open_offers_are_bounded_per_peer_and_per_merchant() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let api = app.api().await;
    node_started(&app).await;
    let plan = api.monthly_plan().await;
    let ask = |peer: NodeId, code: String| {
        let app = &app;
        async move {
            subscribe::terms(
                &app.db,
                &app.context.clocks,
                &peer,
                &SubscribeRequest {
                    code,
                    node_address: None,
                },
            )
            .await
            .unwrap()
            .reply
        }
    };
    let mut codes = Vec::new();
    for _ in 0..=subscribe::PEER_OPEN_OFFERS {
        codes.push(plan_code(&api, &plan).await);
    }
    for code in &codes[..subscribe::PEER_OPEN_OFFERS as usize] {
        assert!(matches!(
            ask(subscriber(), code.clone()).await,
            TermsReply::Offer(_)
        ));
    }
    let last = codes.last().unwrap().clone();
    assert_eq!(
        ask(subscriber(), last.clone()).await,
        TermsReply::Error(
            "too many open offers for this node: accept one, or ask again in an hour".into()
        )
    );
    // Asking again about a code it holds an offer for still answers it.
    assert!(matches!(
        ask(subscriber(), codes[0].clone()).await,
        TermsReply::Offer(_)
    ));
    let other = NodeId::parse(OTHER_NODE).unwrap();
    assert!(matches!(
        ask(other, last.clone()).await,
        TermsReply::Offer(_)
    ));

    // A flood of fresh node ids: the merchant's open offers stop at the
    // bound (rows written directly, as that many handshakes would).
    let open = open_offers(&app).await;
    let now = app.now();
    let rows: Vec<_> = (open..subscribe::MERCHANT_OPEN_OFFERS)
        .map(|i| pushbill::store::subscribe_offers::ActiveModel {
            offer_id: sea_orm::Set(format!("{i:032x}")),
            code: sea_orm::Set(last.clone()),
            merchant_id: sea_orm::Set(api.merchant_id.clone()),
            node_id: sea_orm::Set(format!("02{i:064x}")),
            node_address: sea_orm::Set(None),
            terms: sea_orm::Set(json!({})),
            grant_key: sea_orm::Set(None),
            grant_id: sea_orm::Set(None),
            customer_id: sea_orm::Set(None),
            subscription_id: sea_orm::Set(None),
            created_at: sea_orm::Set(now),
        })
        .collect();
    for chunk in rows.chunks(500) {
        pushbill::store::subscribe_offers::Entity::insert_many(chunk.to_vec())
            .exec(&app.db)
            .await
            .unwrap();
    }
    let newcomer =
        NodeId::parse("02c6047f9441ed7d6d3045406e95c07cd85c778e4b8cef3ca7abac09b95c709ee5")
            .unwrap();
    assert_eq!(
        ask(newcomer, last.clone()).await,
        TermsReply::Error("too many signups in progress: try again later".into())
    );
    // Another merchant's signups go on.
    let other_api = app.api().await;
    let other_plan = other_api.monthly_plan().await;
    let other_code = plan_code(&other_api, &other_plan).await;
    assert!(matches!(
        ask(newcomer, other_code).await,
        TermsReply::Offer(_)
    ));
    // An hour on, the merchant's stale offers are pruned and signups open
    // again: the open offers left are the newcomer's new one and its one for
    // the other merchant (pruned at that merchant's next signup).
    app.set_time(now + Duration::hours(1)).await;
    assert!(matches!(ask(newcomer, last).await, TermsReply::Offer(_)));
    assert_eq!(open_offers(&app).await, 2);
}
