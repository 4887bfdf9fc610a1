//! /v1/invoices: one-off invoices, voiding, listing, payment requests.

use chrono::Duration;
use serde_json::json;

use crate::support::app::{NODE, Reply, spawn_app};

fn ids(r: &Reply) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {r:?}"))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_one_off_invoice_is_created_pushed_listed_and_voided() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 5_000_000, "description": "Lunch"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let invoice = r.id();
    assert!(invoice.starts_with("inv_"));
    assert_eq!(r.body["object"], "invoice");
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["customer"], customer);
    assert_eq!(r.body["subscription"], json!(null));
    assert_eq!(r.body["amount_msat"], 5_000_000);
    assert_eq!(r.body["description"], "Lunch");
    assert_eq!(r.body["number"], "BOB-000001");
    assert_eq!(r.body["due_at"], "2027-12-02T00:00:00Z");

    let path = format!("/v1/invoices/{invoice}");
    let r = api.get(&path).await;
    assert_eq!((r.status, r.id()), (200, invoice.clone()));

    // Pending until the node issues it; the customer has a node, so it is pushed.
    let prs = format!("{path}/payment_requests");
    let r = api.get(&prs).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["url"], prs);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    let pr = &r.body["data"][0];
    assert_eq!(pr["object"], "payment_request");
    assert_eq!(pr["invoice"], invoice);
    assert_eq!(pr["status"], "pending");
    assert_eq!(pr["push"], true);
    assert_eq!(pr["push_attempts"], json!([]));

    app.issue_pending(Duration::hours(24)).await;
    let r = api.get(&prs).await;
    let pr = &r.body["data"][0];
    assert_eq!(pr["status"], "issued");
    assert!(pr["bolt11"].as_str().unwrap().starts_with("lnbcrt"));
    let attempts = pr["push_attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{pr}");
    assert_eq!(attempts[0]["object"], "push_attempt");
    assert_eq!(attempts[0]["node_id"], NODE);
    assert_eq!(attempts[0]["status"], "queued");
    assert!(attempts[0]["id"].as_str().unwrap().starts_with("pa_"));
    for field in ["reason", "attempted_at", "replied_at", "created_at"] {
        assert!(attempts[0].get(field).is_some(), "{field}");
    }

    let r = api.post(&format!("{path}/void"), json!({})).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["status"], "void");
    assert_eq!(r.body["voided_at"], "2027-12-01T00:00:00Z");
    let r = api.post(&format!("{path}/void"), json!({})).await;
    assert_eq!((r.status, r.code()), (409, "invoice_not_voidable"), "{r:?}");
    let r = api.get(&prs).await;
    assert_eq!(r.body["data"][0]["status"], "canceled");
    assert_eq!(
        app.event_types(&invoice).await,
        ["invoice.created", "invoice.voided"]
    );
}

#[tokio::test]
async fn a_customer_without_a_node_is_not_pushed_and_due_in_secs_is_honoured() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api
        .post("/v1/customers", json!({"email": "bob@example.com"}))
        .await
        .id();
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1, "due_in_secs": 3600}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["due_at"], "2027-12-01T01:00:00Z");
    assert_eq!(r.body["description"], json!(null));
    let prs = format!("/v1/invoices/{}/payment_requests", r.id());
    app.issue_pending(Duration::hours(24)).await;
    let r = api.get(&prs).await;
    assert_eq!(r.body["data"][0]["push"], false);
    assert_eq!(r.body["data"][0]["status"], "issued");
    assert_eq!(r.body["data"][0]["push_attempts"], json!([]));
}

#[tokio::test]
async fn a_paid_invoice_cannot_be_voided() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let invoice = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1000}),
        )
        .await
        .id();
    app.pay(&invoice).await;
    let r = api.get(&format!("/v1/invoices/{invoice}")).await;
    assert_eq!(r.body["status"], "paid");
    let r = api
        .post(&format!("/v1/invoices/{invoice}/void"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (409, "invoice_not_voidable"));
}

#[tokio::test]
async fn invalid_invoices_are_400s_naming_the_field() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let cases = [
        (
            "amount_msat",
            json!({"customer": customer, "amount_msat": -1}),
        ),
        (
            "amount_msat",
            json!({"customer": customer, "amount_msat": 1.5}),
        ),
        (
            "amount_msat",
            json!({"customer": customer, "amount_msat": 2_100_000_000_000_000_001_u64}),
        ),
        (
            "amount_msat",
            json!({"customer": customer, "amount_msat": "12"}),
        ),
        (
            "amount_msat",
            json!({"customer": customer, "amount_msat": 0}),
        ),
        ("amount_msat", json!({"customer": customer})),
        ("customer", json!({"amount_msat": 1000})),
        (
            "customer",
            json!({"customer": "cus_nope", "amount_msat": 1000}),
        ),
        (
            "customer",
            json!({"customer": "cus_01jaaaaaaaaaaaaaaaaaaaaaaa", "amount_msat": 1000}),
        ),
        (
            "colour",
            json!({"customer": customer, "amount_msat": 1000, "colour": "red"}),
        ),
        (
            "description",
            json!({"customer": customer, "amount_msat": 1000, "description": "x".repeat(501)}),
        ),
        (
            "due_in_secs",
            json!({"customer": customer, "amount_msat": 1000, "due_in_secs": -1}),
        ),
        (
            "due_in_secs",
            json!({"customer": customer, "amount_msat": 1000, "due_in_secs": 91 * 86_400}),
        ),
    ];
    for (param, body) in cases {
        let r = api.post("/v1/invoices", body.clone()).await;
        assert_eq!((r.status, r.param()), (400, param), "{body}: {r:?}");
        assert_eq!(r.body["error"]["type"], "invalid_request_error");
    }
    // Beyond u64: only expressible as raw JSON.
    let r = api
        .post_raw(
            "/v1/invoices",
            format!(r#"{{"customer": "{customer}", "amount_msat": 100000000000000000000000}}"#),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "amount_msat"), "{r:?}");
    // A deleted customer is unknown too.
    let gone = api
        .post("/v1/customers", json!({"name": "gone"}))
        .await
        .id();
    assert_eq!(
        api.delete(&format!("/v1/customers/{gone}")).await.status,
        200
    );
    let r = api
        .post(
            "/v1/invoices",
            json!({"customer": gone, "amount_msat": 1000}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "customer"));
    // Nothing was created by the refused requests.
    assert_eq!(ids(&api.get("/v1/invoices").await), Vec::<String>::new());

    for (query, param) in [
        ("status=bogus", "status"),
        ("limit=0", "limit"),
        ("starting_after=cus_1", "starting_after"),
        ("colour=red", ""),
    ] {
        let r = api.get(&format!("/v1/invoices?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {r:?}");
        if !param.is_empty() {
            assert_eq!(r.param(), param, "{query}");
        }
    }
    let r = api.get("/v1/invoices/inv_nope").await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
    let r = api.post("/v1/invoices/inv_nope/void", json!({})).await;
    assert_eq!(r.status, 404);
    let r = api.get("/v1/invoices/inv_nope/payment_requests").await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn invoices_are_listed_newest_first_with_filters_and_pages() {
    let app = spawn_app().await;
    let api = app.api().await;
    let plan = api.monthly_plan().await;
    let alice = api.customer().await;
    let bob = api
        .post("/v1/customers", json!({"email": "bob@example.com"}))
        .await
        .id();
    let sub = api.subscription(&alice, &plan).await;
    let sub_invoice = app.invoices_of(&sub).await[0].id.clone();
    let mut one_offs = Vec::new();
    for (customer, amount) in [(&alice, 1000), (&bob, 2000), (&bob, 3000)] {
        let r = api
            .post(
                "/v1/invoices",
                json!({"customer": customer, "amount_msat": amount}),
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        one_offs.push(r.id());
    }
    let voided = one_offs[1].clone();
    assert_eq!(
        api.post(&format!("/v1/invoices/{voided}/void"), json!({}))
            .await
            .status,
        200
    );

    let all = api.get("/v1/invoices").await;
    assert_eq!(all.body["url"], "/v1/invoices");
    let mut expected = vec![sub_invoice.clone()];
    expected.extend(one_offs.clone());
    expected.reverse();
    assert_eq!(ids(&all), expected);
    assert_eq!(all.body["has_more"], false);

    let r = api.get("/v1/invoices?limit=2").await;
    assert_eq!(ids(&r), expected[..2]);
    assert_eq!(r.body["has_more"], true);
    let r = api
        .get(&format!(
            "/v1/invoices?limit=2&starting_after={}",
            expected[1]
        ))
        .await;
    assert_eq!(ids(&r), expected[2..]);
    assert_eq!(r.body["has_more"], false);
    let r = api
        .get(&format!(
            "/v1/invoices?limit=2&ending_before={}",
            expected[2]
        ))
        .await;
    assert_eq!(ids(&r), expected[..2]);

    let r = api.get(&format!("/v1/invoices?customer={bob}")).await;
    assert_eq!(ids(&r), [one_offs[2].clone(), one_offs[1].clone()]);
    let r = api.get("/v1/invoices?status=void").await;
    assert_eq!(ids(&r), [voided.as_str()]);
    let r = api
        .get(&format!("/v1/invoices?status=open&customer={bob}"))
        .await;
    assert_eq!(ids(&r), [one_offs[2].clone()]);
    let r = api.get(&format!("/v1/invoices?subscription={sub}")).await;
    assert_eq!(ids(&r), [sub_invoice.as_str()]);
    assert_eq!(r.body["data"][0]["subscription"], sub);
    let r = api.get("/v1/invoices?customer=cus_nobody").await;
    assert_eq!(ids(&r), Vec::<String>::new());
}

#[tokio::test]
async fn another_merchants_invoices_are_not_found() {
    let app = spawn_app().await;
    let alice = app.api().await;
    let bob = app.api().await;
    let customer = alice.customer().await;
    let invoice = alice
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1000}),
        )
        .await
        .id();
    for path in [
        format!("/v1/invoices/{invoice}"),
        format!("/v1/invoices/{invoice}/payment_requests"),
    ] {
        let r = bob.get(&path).await;
        assert_eq!((r.status, r.code()), (404, "resource_missing"), "{path}");
    }
    let r = bob
        .post(&format!("/v1/invoices/{invoice}/void"), json!({}))
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
    let r = bob
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1000}),
        )
        .await;
    assert_eq!((r.status, r.param()), (400, "customer"));
    assert_eq!(ids(&bob.get("/v1/invoices").await), Vec::<String>::new());
    let r = bob.get(&format!("/v1/invoices?customer={customer}")).await;
    assert_eq!(ids(&r), Vec::<String>::new());
    // Alice's invoice is untouched.
    let r = alice.get(&format!("/v1/invoices/{invoice}")).await;
    assert_eq!(r.body["status"], "open");
}

/// A status list is bounded by `(merchant, status, id)` row values alone
/// (store::page::fetch_owned): it pages forward and back in order, and
/// never reaches another merchant's invoices, in that status or another,
/// however their ids interleave.
#[tokio::test]
async fn a_status_pages_forward_and_back_in_order_and_only_the_merchants() {
    let app = spawn_app().await;
    let api = app.api().await;
    let other = app.api().await;
    let alice = api.customer().await;
    let mallory = other.customer().await;
    let mut open = Vec::new();
    let mut void = Vec::new();
    let mut others = Vec::new();
    for i in 0..12 {
        for (who, customer) in [(&api, &alice), (&other, &mallory)] {
            let r = who
                .post(
                    "/v1/invoices",
                    json!({"customer": customer, "amount_msat": 1000 + i}),
                )
                .await;
            assert_eq!(r.status, 200, "{r:?}");
            let id = r.id();
            let voided = i % 3 == 0;
            if voided {
                let r = who
                    .post(&format!("/v1/invoices/{id}/void"), json!({}))
                    .await;
                assert_eq!(r.status, 200);
            }
            match (std::ptr::eq(who, &api), voided) {
                (true, true) => void.push(id),
                (true, false) => open.push(id),
                (false, _) => others.push(id),
            }
        }
    }
    for (status, mut expected) in [("open", open), ("void", void)] {
        expected.reverse();
        // Forward, three at a time.
        let mut seen = Vec::new();
        let mut query = format!("/v1/invoices?status={status}&limit=3");
        loop {
            let r = api.get(&query).await;
            assert_eq!(r.status, 200, "{r:?}");
            let page = ids(&r);
            seen.extend(page.clone());
            if r.body["has_more"] != true {
                break;
            }
            query = format!(
                "/v1/invoices?status={status}&limit=3&starting_after={}",
                page.last().unwrap()
            );
        }
        assert_eq!(seen, expected, "{status} forward");
        // Back from the last one.
        let r = api
            .get(&format!(
                "/v1/invoices?status={status}&limit=3&ending_before={}",
                expected.last().unwrap()
            ))
            .await;
        let n = expected.len();
        assert_eq!(ids(&r), expected[n - 4..n - 1], "{status} back");
        // Newer ones lie beyond it unless it reached the newest.
        assert_eq!(r.body["has_more"], n > 4, "{status} back");
        // Past the oldest and before the newest: nothing, and no other
        // merchant's invoice either.
        let r = api
            .get(&format!(
                "/v1/invoices?status={status}&starting_after={}",
                expected.last().unwrap()
            ))
            .await;
        assert_eq!(ids(&r), Vec::<String>::new(), "{status} past the oldest");
        let r = api
            .get(&format!(
                "/v1/invoices?status={status}&ending_before={}",
                expected[0]
            ))
            .await;
        assert_eq!(ids(&r), Vec::<String>::new(), "{status} before the newest");
        // The other merchant's cursor pages nothing of theirs into ours.
        for cursor in ["starting_after", "ending_before"] {
            let r = api
                .get(&format!(
                    "/v1/invoices?status={status}&{cursor}={}",
                    others[6]
                ))
                .await;
            assert!(
                ids(&r).iter().all(|id| !others.contains(id)),
                "{status} {cursor}: {:?}",
                r.body
            );
        }
    }
    // And the other merchant sees its own alone.
    let r = other.get("/v1/invoices?status=open&limit=100").await;
    assert_eq!(ids(&r).len(), 8);
    assert!(ids(&r).iter().all(|id| others.contains(id)));
}
