use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, data};

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut req = app.http().post(app.url("/graphql")).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn malformed_requests_get_clear_errors_with_codes() {
    let app = TestApp::spawn().await;
    let (status, body) = post_raw(&app, Some("application/json"), b"{not json".to_vec()).await;
    assert_eq!(status, 400);
    assert_error(&body, "BAD_USER_INPUT");

    let (status, _) = post_raw(&app, None, br#"{"query":"{ rootArea { id } }"}"#.to_vec()).await;
    assert!(
        (400..500).contains(&status),
        "POST without a content type: {status}"
    );

    let big = format!(
        r#"{{"query":"{{ rootArea {{ id }} }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(1024 * 1024)
    );
    let (status, _) = post_raw(&app, Some("application/json"), big.into_bytes()).await;
    assert_eq!(status, 413);

    let s = app.login("tess").await;
    for query in [
        "{ me { id ",                               // syntax
        "{ me { id notAField } }",                  // validation
        "query($id: ID!) { area(id: $id) { id } }", // missing variable
    ] {
        let resp = app.gql(Some(&s.access), query, json!({})).await;
        assert_error(&resp, "BAD_USER_INPUT");
    }
    let resp = app
        .gql(
            Some(&s.access),
            "query($id: ID!) { area(id: $id) { id } }",
            json!({ "id": { "x": 1 } }),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");

    // Batches are capped.
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ me { id } }" }))
        .collect();
    let (status, body) = post_raw(
        &app,
        Some("application/json"),
        serde_json::to_vec(&batch).unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let batch: Vec<Value> = (0..2)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let (status, body) = post_raw(
        &app,
        Some("application/json"),
        serde_json::to_vec(&batch).unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn deep_and_wide_queries_are_refused_before_resolving() {
    let app = TestApp::spawn().await;
    let s = app.login("uma").await;
    let mut deep = String::from("id");
    for _ in 0..30 {
        deep = format!("id children {{ {deep} }}");
    }
    let resp = app
        .gql(
            Some(&s.access),
            &format!("{{ rootArea {{ {deep} }} }}"),
            json!({}),
        )
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
    assert_eq!(resp["data"], Value::Null);

    let wide: String = (0..1000)
        .map(|i| format!("a{i}: rootArea {{ id }} "))
        .collect();
    let resp = app
        .gql(Some(&s.access), &format!("{{ {wide} }}"), json!({}))
        .await;
    assert_error(&resp, "BAD_USER_INPUT");
}

#[tokio::test]
async fn response_media_type_follows_accept() {
    let app = TestApp::spawn().await;
    let send = |accept: Option<&'static str>, query: &'static str| {
        let mut req = app
            .http()
            .post(app.url("/graphql"))
            .json(&json!({ "query": query }));
        if let Some(accept) = accept {
            req = req.header("accept", accept);
        }
        req.send()
    };
    let resp = send(Some("application/graphql-response+json"), "{ __typename }")
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );
    let resp = send(Some("application/graphql-response+json"), "{ nope }")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    for accept in [None, Some("*/*"), Some("application/json")] {
        let resp = send(accept, "{ nope }").await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
}

#[tokio::test]
async fn health_readiness_and_graphiql() {
    let app = TestApp::spawn().await;
    let resp = app.http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = app.http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    let expected_store = if crate::helpers::redis_url().is_some() {
        "redis"
    } else {
        "memory"
    };
    assert_eq!(body["store"], expected_store);
    let resp = app.http().get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("graphiql"));
}

#[tokio::test]
async fn readyz_fails_when_redis_does_not_answer() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config_redis = format!("redis://{closed}");
    // The server refuses to start without its configured Redis rather than run half-blind.
    let vars = std::collections::HashMap::from([
        ("BIND_ADDR".to_string(), "127.0.0.1:0".to_string()),
        (
            "DATABASE_URL".to_string(),
            crate::helpers::fresh_database().await.url.clone(),
        ),
        ("REDIS_URL".to_string(), config_redis),
    ]);
    let config = api::config::Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let err = api::App::build(config)
        .await
        .err()
        .expect("must not start without Redis");
    assert!(format!("{err:#}").contains("REDIS_URL"), "{err:#}");
    let _ = data;
}
