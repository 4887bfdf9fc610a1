//! Cursor pagination: newest first, `starting_after` and `ending_before`.

use serde_json::{Value, json};

use crate::support::app::spawn_app;

fn ids(r: &crate::support::app::Reply) -> Vec<String> {
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn twenty_five_customers_walked_in_pages_of_ten_both_ways() {
    let app = spawn_app().await;
    let api = app.api().await;
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(
            api.post("/v1/customers", json!({"name": format!("c{i}")}))
                .await
                .id(),
        );
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut path = "/v1/customers?limit=10".to_owned();
    let mut pages = Vec::new();
    loop {
        let r = api.get(&path).await;
        assert_eq!(r.body["object"], "list");
        let page = ids(&r);
        seen.extend(page.clone());
        pages.push((page.len(), r.body["has_more"].clone()));
        if r.body["has_more"] == Value::Bool(false) {
            break;
        }
        path = format!(
            "/v1/customers?limit=10&starting_after={}",
            page.last().unwrap()
        );
    }
    assert_eq!(seen, newest_first);
    assert_eq!(
        pages,
        [(10, json!(true)), (10, json!(true)), (5, json!(false))]
    );

    // Back from the oldest.
    let mut back = Vec::new();
    let mut cursor = created[0].clone();
    back.insert(0, cursor.clone());
    loop {
        let r = api
            .get(&format!("/v1/customers?limit=10&ending_before={cursor}"))
            .await;
        let page = ids(&r);
        assert!(page.len() <= 10);
        let mut all = page.clone();
        all.extend(back);
        back = all;
        if r.body["has_more"] == Value::Bool(false) {
            break;
        }
        cursor = page.first().unwrap().clone();
    }
    assert_eq!(back, newest_first);

    let r = api.get("/v1/customers").await;
    assert_eq!(ids(&r).len(), 10, "default limit");
    let r = api.get("/v1/customers?limit=100").await;
    assert_eq!(
        (ids(&r).len(), r.body["has_more"].clone()),
        (25, json!(false))
    );
}
