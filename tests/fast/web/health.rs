use crate::support::app::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_200_with_the_database_up() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app
            .http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let body: serde_json::Value = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn tests_run_on_the_backend_that_was_asked_for() {
    let app = spawn_app().await;
    let wanted = match std::env::var("PUSHBILL_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => "postgresql",
        _ => "sqlite",
    };
    let actual = if pushbill::store::is_postgres(&app.db) {
        "postgresql"
    } else {
        "sqlite"
    };
    println!("database backend under test: {actual}");
    assert_eq!(actual, wanted);
    assert_eq!(app.database.backend, wanted);
}
