//! Nostr Wallet Connect end to end (issue 16), with real parts on loopback:
//! a relay in this process, the subscriber's wallet service (`pushbill
//! payer` offering a NIP-47 connection) paying with its real LDK node over
//! a channel to the merchant's node on the chain simulator, and the node
//! role's wallet sender. The invoice is paid when the merchant's node
//! receives the money.

use std::time::Duration;

use payer::state::Status;
use pushbill::store::{events, wallet_connections};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::support::app::Api;
use crate::support::deployment::Deployment;
use crate::support::email;
use crate::support::ln::wait_for;
use crate::support::nwc::{Relay, secret_of, send_until_settled, sender, wallet_payer};

/// A subscriber (with an email address) of a 21,000 sat monthly plan,
/// whose first invoice is open; its id.
async fn subscriber(api: &Api) -> String {
    let plan = api
        .post(
            "/v1/plans",
            json!({"name": "Monthly", "amount_msat": 21_000_000, "interval": "month"}),
        )
        .await
        .id();
    let customer = api
        .post("/v1/customers", json!({"email": "sub@example.com"}))
        .await
        .id();
    api.subscription(&customer, &plan).await
}

/// What the merchant's node received for the invoice, msat.
async fn received(app: &crate::support::app::TestApp, invoice_id: &str) -> i64 {
    app.payment_requests_of(invoice_id)
        .await
        .iter()
        .filter_map(|r| r.amount_received_msat)
        .sum()
}

/// Connects the wallet at `uri` to the subscription through the API.
async fn connect(api: &Api, sub: &str, uri: &str) -> serde_json::Value {
    let r = api
        .post(
            &format!("/v1/subscriptions/{sub}/payment_method"),
            json!({"method": "nwc", "nwc_uri": uri}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_wallet_pays_three_periods_once_each_and_its_secret_is_never_shown() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let api = deployment.merchant("Shop", "SHOP").await;
    let relay = Relay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (payer, uri) = wallet_payer(&deployment, dir.path(), &relay, 100_000_000).await;
    let secret = secret_of(&uri);

    let sub = subscriber(&api).await;
    let method = connect(&api, &sub, &uri).await;
    assert_eq!(method["method"], "nwc");
    let connection = method["wallet_connection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(connection.starts_with("wc_"));
    assert_eq!(method["wallet_connection"]["relays"], json!([relay.url]));
    // The payer reports its budget (get_budget, NWC-13).
    assert_eq!(
        method["wallet_connection"]["budget"],
        json!({"total_msat": 100_000_000, "used_msat": 0, "renewal": "monthly"})
    );
    assert!(
        method["wallet_connection"]["wallet_methods"]
            .as_array()
            .unwrap()
            .contains(&json!("pay_invoice")),
        "{method}"
    );

    let wallets = sender(app, Duration::from_secs(20), 3);
    for month in 0..3 {
        if month > 0 {
            app.advance(chrono::Duration::days(31)).await;
        }
        deployment.issue().await;
        let invoice = app
            .invoices_of(&sub)
            .await
            .into_iter()
            .find(|i| i.status == "open")
            .expect("an open invoice");
        let attempt = send_until_settled(&deployment, &wallets, &invoice.id).await;
        assert_eq!(
            (attempt.method.as_str(), attempt.status.as_str()),
            ("nwc", "paid"),
            "month {month}: {attempt:?}"
        );
        assert_eq!(
            attempt.wallet_connection_id.as_deref(),
            Some(connection.as_str())
        );
        deployment.wait_paid(&invoice.id).await;
        let pushed = deployment.event(&invoice.id, "invoice.pushed").await;
        assert_eq!(pushed["push"]["method"], "nwc", "{pushed}");
        assert_eq!(pushed["push"]["wallet_connection"], json!(connection));
        let types = app.event_types(&invoice.id).await;
        let (pushed, paid) = (
            types.iter().position(|t| t == "invoice.pushed"),
            types.iter().position(|t| t == "invoice.paid"),
        );
        assert!(pushed.is_some() && paid.is_some(), "{types:?}");
        // Once answered with the preimage, the request is never sent again:
        // a further round sends nothing for it.
        assert_eq!(wallets.run_once().await.unwrap(), 0);
    }
    // The wallet paid three times, each a different hash, once each.
    let paid: Vec<_> = payer
        .state()
        .payments
        .into_iter()
        .filter(|(_, p)| p.nwc_id.is_some())
        .collect();
    assert_eq!(paid.len(), 3, "{paid:?}");
    wait_for("the payer to record its payments", || async {
        payer
            .state()
            .payments
            .values()
            .filter(|p| p.nwc_id.is_some() && p.status == Status::Paid)
            .count()
            == 3
    })
    .await;
    let invoices = app.invoices_of(&sub).await;
    assert_eq!(invoices.len(), 3);
    for invoice in &invoices {
        assert_eq!(invoice.status, "paid");
        assert_eq!(
            received(app, &invoice.id).await,
            21_000_000,
            "{}",
            invoice.number
        );
    }

    // The secret is in no API answer, no event, and not in the database in the clear.
    for path in [
        format!("/v1/subscriptions/{sub}/payment_method"),
        format!("/v1/subscriptions/{sub}"),
        "/v1/events?limit=100".to_owned(),
    ] {
        let r = api.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            !r.body.to_string().contains(&secret),
            "{path} shows the secret"
        );
    }
    for event in events::Entity::find().all(&app.db).await.unwrap() {
        assert!(
            !event.data.to_string().contains(&secret),
            "{}",
            event.event_type
        );
    }
    let row = wallet_connections::Entity::find_by_id(&connection)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let sealed = row.secret_sealed.clone().expect("sealed");
    assert!(!sealed.contains(&secret) && !sealed.contains("walletconnect"));

    // Back to the pay page: the connection is removed and its secret erased.
    let r = api
        .post(
            &format!("/v1/subscriptions/{sub}/payment_method"),
            json!({"method": "manual"}),
        )
        .await;
    assert_eq!(
        (
            r.body["method"].clone(),
            r.body["wallet_connection"].clone()
        ),
        (json!("manual"), json!(null))
    );
    let row = wallet_connections::Entity::find_by_id(&connection)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.status.as_str(), row.secret_sealed), ("removed", None));
    payer.stop().await;
    deployment.stop().await;
}

/// The wallet's budget is smaller than the invoice: it answers
/// QUOTA_EXCEEDED. The invoice stays open, `invoice.push_failed` carries the
/// reason, dunning runs (each retry asks the wallet again and is refused
/// again), the customer is emailed the pay page, and at the end of grace the
/// invoice is `invoice.unpaid`. Raising the budget and asking again pays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_over_its_budget_leaves_the_invoice_to_dunning() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let api = deployment.merchant("Shop", "SHOP").await;
    let relay = Relay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (payer, uri) = wallet_payer(&deployment, dir.path(), &relay, 1_000_000).await;
    let sub = subscriber(&api).await;
    connect(&api, &sub, &uri).await;
    let wallets = sender(app, Duration::from_secs(20), 3);

    deployment.issue().await;
    let invoice = app.invoices_of(&sub).await.remove(0);
    let attempt = send_until_settled(&deployment, &wallets, &invoice.id).await;
    assert_eq!(
        (attempt.status.as_str(), attempt.reason.as_deref()),
        ("rejected", Some("rejected:quota_exceeded")),
        "{attempt:?}"
    );
    let failed = deployment.event(&invoice.id, "invoice.push_failed").await;
    assert_eq!(failed["push"]["reason"], "rejected:quota_exceeded");
    assert_eq!(failed["push"]["method"], "nwc");
    assert_eq!(app.invoice(&invoice.id).await.status, "open");

    // Due: past due, and the customer is emailed the pay page.
    app.advance_to(invoice.due_at).await;
    assert_eq!(app.subscription(&sub).await.status, "past_due");
    app.deliver_webhooks().await;
    let mails = email::rows(app, "payment_failed").await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to_address, "sub@example.com");
    assert!(
        mails[0].body_text.contains("/pay/"),
        "{}",
        mails[0].body_text
    );

    // A dunning retry (+1 h) asks the wallet again: refused again.
    app.advance(chrono::Duration::hours(1)).await;
    deployment.issue().await;
    let again = send_until_settled(&deployment, &wallets, &invoice.id).await;
    assert_eq!(
        again.reason.as_deref(),
        Some("rejected:quota_exceeded"),
        "{again:?}"
    );
    assert_ne!(again.id, attempt.id);

    // The later retries ask it again as they come (each refused), and grace
    // ends: unpaid, nothing paid by the wallet.
    let grace_end = invoice.due_at + chrono::Duration::days(7);
    let before_end = grace_end - chrono::Duration::seconds(1);
    while app.now() < before_end {
        let next = std::cmp::min(app.now() + chrono::Duration::hours(12), before_end);
        app.advance_to(next).await;
        deployment.issue().await;
        while wallets.run_once().await.unwrap() > 0 {}
    }
    assert_eq!(app.subscription(&sub).await.status, "past_due");
    app.advance_to(grace_end).await;
    assert_eq!(app.subscription(&sub).await.status, "unpaid");
    let types = app.event_types(&invoice.id).await;
    assert_eq!(
        types.last().map(String::as_str),
        Some("invoice.unpaid"),
        "{types:?}"
    );
    let refused = deployment
        .pushes(&invoice.id)
        .await
        .into_iter()
        .filter(|a| a.reason.as_deref() == Some("rejected:quota_exceeded"))
        .count();
    let failed_events = types.iter().filter(|t| *t == "invoice.push_failed").count();
    assert!(
        refused >= 3,
        "the wallet was asked at each retry: {types:?}"
    );
    assert_eq!(refused, failed_events, "{types:?}");
    assert!(
        payer
            .state()
            .payments
            .values()
            .all(|p| p.status != Status::Paid)
    );
    assert_eq!(received(app, &invoice.id).await, 0);

    // The subscriber raises the budget; the merchant asks again: paid.
    let id = payer.state().nwc_connections[0].id.clone();
    payer.nwc_set_budget(&id, 100_000_000, None).unwrap();
    pushbill::billing::lifecycle::push_again(&app.db, app.now(), &api.merchant_id, &invoice.id)
        .await
        .unwrap();
    deployment.issue().await;
    let last = send_until_settled(&deployment, &wallets, &invoice.id).await;
    assert_eq!(last.status, "paid", "{last:?}");
    deployment.wait_paid(&invoice.id).await;
    payer.stop().await;
    deployment.stop().await;
}

/// The relay goes down before the request is sent: not delivered, tried
/// again; the relay comes back (a new relay on the same port, which has
/// lost the wallet's info event): the wallet republishes and pays, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_down_then_up_pays_once_not_twice() {
    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let api = deployment.merchant("Shop", "SHOP").await;
    let mut relay = Relay::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (payer, uri) = wallet_payer(&deployment, dir.path(), &relay, 100_000_000).await;
    let sub = subscriber(&api).await;
    connect(&api, &sub, &uri).await;
    let wallets = sender(app, Duration::from_secs(5), 100);
    deployment.issue().await;
    let invoice = app.invoices_of(&sub).await.remove(0);

    relay.stop().await;
    wallets.run_once().await.unwrap();
    let down = deployment.pushes(&invoice.id).await.pop().unwrap();
    assert_eq!(down.status, "queued", "{down:?}");
    assert!(
        matches!(
            down.reason.as_deref(),
            Some("relay_unavailable" | "timeout")
        ),
        "{down:?}"
    );
    assert_eq!(down.tries, 1);
    assert_eq!(app.invoice(&invoice.id).await.status, "open");

    relay.restart().await;
    let attempt = send_until_settled(&deployment, &wallets, &invoice.id).await;
    // Paid: the wallet's answer came back, or it was lost while the
    // clients reconnected and the next try found the invoice paid (and
    // asked nothing).
    let settled = (attempt.status.as_str(), attempt.reason.as_deref());
    assert!(
        settled.0 == "paid" || settled == ("dropped", Some("invoice_paid")),
        "{attempt:?}"
    );
    assert_eq!(attempt.id, down.id, "the same attempt, tried again");
    deployment.wait_paid(&invoice.id).await;
    // Once: one payment at the wallet, the invoice paid its amount exactly.
    let payments: Vec<_> = payer
        .state()
        .payments
        .into_iter()
        .filter(|(_, p)| p.nwc_id.is_some())
        .collect();
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(received(app, &invoice.id).await, 21_000_000);
    assert_eq!(wallets.run_once().await.unwrap(), 0);
    payer.stop().await;
    deployment.stop().await;
}

/// Wallets that answer what the subscriber's payer never would: a success
/// whose preimage is not the payment hash's is `rejected:bad_preimage` (the
/// invoice stays open: only the merchant's node receiving money pays it),
/// `RATE_LIMITED` is tried again, and an error code nostr does not know is
/// `rejected:other`. Each ends with its event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_or_unknown_answer_from_a_wallet_never_marks_anything_paid() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::support::nwc::{ScriptedWallet, info};

    let deployment = Deployment::open().await;
    let app = &deployment.app;
    let api = deployment.merchant("Shop", "SHOP").await;
    let relay = Relay::start().await;
    let wallets = sender(app, Duration::from_secs(10), 5);
    let pays = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&pays);
    // First rate limited, then a success with a made-up preimage.
    let liar = ScriptedWallet::start(
        &relay.url,
        "pay_invoice get_info",
        Arc::new(move |method, _| match method {
            "get_info" => Some(info(&["pay_invoice", "get_info"], "regtest")),
            "pay_invoice" if counter.fetch_add(1, Ordering::SeqCst) == 0 => {
                Some(json!({"code": "RATE_LIMITED", "message": "slow down"}))
            }
            "pay_invoice" => Some(json!({"preimage": "00".repeat(32), "fees_paid": 0})),
            _ => None,
        }),
    )
    .await;
    let sub = subscriber(&api).await;
    connect(&api, &sub, &liar.uri).await;
    deployment.issue().await;
    let invoice = app.invoices_of(&sub).await.remove(0);
    wallets.run_once().await.unwrap();
    let limited = deployment.pushes(&invoice.id).await.pop().unwrap();
    assert_eq!(
        (limited.status.as_str(), limited.reason.as_deref()),
        ("queued", Some("rate_limited")),
        "{limited:?}"
    );
    let lied = send_until_settled(&deployment, &wallets, &invoice.id).await;
    assert_eq!(
        (lied.status.as_str(), lied.reason.as_deref()),
        ("rejected", Some("rejected:bad_preimage")),
        "{lied:?}"
    );
    assert_eq!(pays.load(Ordering::SeqCst), 2);
    assert_eq!(app.invoice(&invoice.id).await.status, "open");
    let failed = deployment.event(&invoice.id, "invoice.push_failed").await;
    assert_eq!(failed["push"]["reason"], "rejected:bad_preimage");
    liar.stop().await;

    // A code nostr has no name for (the spec's UNSUPPORTED_ENCRYPTION).
    let odd = ScriptedWallet::start(
        &relay.url,
        "pay_invoice get_info",
        Arc::new(|method, _| match method {
            "get_info" => Some(info(&["pay_invoice", "get_info"], "regtest")),
            "pay_invoice" => {
                Some(json!({"code": "UNSUPPORTED_ENCRYPTION", "message": "use nip44"}))
            }
            _ => None,
        }),
    )
    .await;
    let odd_connection = connect(&api, &sub, &odd.uri).await["wallet_connection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // (The BOLT11 expired against the merchant's test clock: a fresh one.)
    deployment.issue().await;
    let mut asked = None;
    for _ in 0..60 {
        wallets.run_once().await.unwrap();
        asked = deployment
            .pushes(&invoice.id)
            .await
            .into_iter()
            .find(|a| a.wallet_connection_id.as_deref() == Some(odd_connection.as_str()));
        if asked.as_ref().is_some_and(|a| a.status != "queued") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let asked =
        asked.unwrap_or_else(|| panic!("connecting again asked the new wallet {odd_connection}"));
    assert_eq!(
        (asked.status.as_str(), asked.reason.as_deref()),
        ("rejected", Some("rejected:other")),
        "{asked:?}"
    );
    assert_eq!(app.invoice(&invoice.id).await.status, "open");
    assert_eq!(received(app, &invoice.id).await, 0);
    odd.stop().await;
    deployment.stop().await;
}
