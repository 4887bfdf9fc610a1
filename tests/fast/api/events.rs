//! /v1/events: what happened, newest first, with a snapshot of the object.

use serde_json::json;

use crate::support::app::{Reply, spawn_app};

fn types(r: &Reply) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("a list: {r:?}"))
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(r: &Reply) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn events_are_listed_newest_first_filtered_by_type_and_fetched_by_id() {
    let app = spawn_app().await;
    let api = app.api().await;
    let customer = api.customer().await;
    let r = api
        .post(
            &format!("/v1/customers/{customer}"),
            json!({"name": "Alice"}),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let invoice = api
        .post(
            "/v1/invoices",
            json!({"customer": customer, "amount_msat": 1000}),
        )
        .await
        .id();
    api.post(&format!("/v1/invoices/{invoice}/void"), json!({}))
        .await;

    let r = api.get("/v1/events").await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["object"], "list");
    assert_eq!(r.body["url"], "/v1/events");
    assert_eq!(
        types(&r),
        [
            "invoice.voided",
            "invoice.created",
            "customer.updated",
            "customer.created"
        ]
    );
    let newest = &r.body["data"][0];
    assert_eq!(newest["object"], "event");
    assert!(newest["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(newest["data"]["object"]["id"], invoice);
    assert_eq!(newest["data"]["object"]["object"], "invoice");
    assert_eq!(newest["data"]["object"]["status"], "void");
    assert_eq!(newest["created_at"], "2027-12-01T00:00:00Z");
    let keys: Vec<&String> = newest.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 6, "{newest}");

    let all = ids(&r);
    let one = api.get(&format!("/v1/events/{}", all[2])).await;
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(one.body, r.body["data"][2]);
    assert_eq!(one.body["data"]["object"]["name"], "Alice");

    let r = api.get("/v1/events?type=customer.created").await;
    assert_eq!(ids(&r), [all[3].clone()]);
    assert_eq!(r.body["data"][0]["data"]["object"]["id"], customer);
    let r = api.get("/v1/events?type=invoice.paid").await;
    assert_eq!(ids(&r), Vec::<String>::new());

    let r = api.get("/v1/events?limit=3").await;
    assert_eq!(ids(&r), all[..3]);
    assert_eq!(r.body["has_more"], true);
    let r = api
        .get(&format!("/v1/events?limit=3&starting_after={}", all[2]))
        .await;
    assert_eq!(ids(&r), all[3..]);
    assert_eq!(r.body["has_more"], false);
    let r = api
        .get(&format!("/v1/events?limit=2&ending_before={}", all[3]))
        .await;
    assert_eq!(ids(&r), all[1..3]);
    assert_eq!(r.body["has_more"], true);
}

#[tokio::test]
async fn bad_event_queries_are_400s_and_unknown_ids_404s() {
    let app = spawn_app().await;
    let api = app.api().await;
    for (query, param) in [
        ("type=invoice.bogus", "type"),
        ("limit=101", "limit"),
        ("starting_after=inv_1", "starting_after"),
    ] {
        let r = api.get(&format!("/v1/events?{query}")).await;
        assert_eq!((r.status, r.param()), (400, param), "{query}: {r:?}");
    }
    let r = api.get("/v1/events?colour=red").await;
    assert_eq!(r.status, 400, "{r:?}");
    let r = api.get("/v1/events/evt_nope").await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
}

#[tokio::test]
async fn another_merchants_events_are_not_found() {
    let app = spawn_app().await;
    let alice = app.api().await;
    let bob = app.api().await;
    alice.customer().await;
    let event = alice.get("/v1/events").await.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = bob.get(&format!("/v1/events/{event}")).await;
    assert_eq!((r.status, r.code()), (404, "resource_missing"));
    assert_eq!(ids(&bob.get("/v1/events").await), Vec::<String>::new());
    let r = bob.get("/v1/events?type=customer.created").await;
    assert_eq!(ids(&r), Vec::<String>::new());
    let r = alice.get(&format!("/v1/events/{event}")).await;
    assert_eq!(r.status, 200);
}
