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

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = TestApp::spawn().await;
    let s = app.login("gina").await;
    let resp = app
        .http()
        .get(app.url("/graphql"))
        .query(&[("query", "query Me { me { id } }"), ("operationName", "Me")])
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["me"]["id"], s.user_id.as_str());

    let resp = app
        .http()
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { logout }")])
        .bearer_auth(&s.access)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");
    // The session survived: the mutation did not run.
    let me = app.op(Some(&s.access), "identity", "Me", json!({})).await;
    assert_eq!(data(&me)["me"]["id"], s.user_id.as_str());

    let resp = app
        .http()
        .get(app.url("/graphql"))
        .query(&[("query", "{ me { id ")])
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("data").is_none(),
        "a request error has no data entry: {body}"
    );
    assert_error(&body, "BAD_USER_INPUT");
}

async fn login_status(app: &TestApp, name: &str) -> (u16, Option<String>, Value) {
    let resp = app
        .http()
        .post(app.url("/graphql"))
        .json(&json!({
            "query": "mutation($code: String!) { wechatLogin(code: $code) { accessToken } }",
            "variables": { "code": format!("{name}#{}", rand::random::<u32>()) },
        }))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, resp.json().await.unwrap())
}

#[tokio::test]
async fn signing_in_is_rate_limited_per_address() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("RATE_LIMIT_SIGN_IN_PER_MIN".into(), "3".into());
    })
    .await;
    for _ in 0..3 {
        assert_eq!(login_status(&app, "rita").await.0, 200);
    }
    let (status, retry, body) = login_status(&app, "rita").await;
    assert_eq!(status, 429);
    assert_error(&body, "RATE_LIMITED");
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            >= 1
    );
}

#[tokio::test]
async fn each_user_has_a_budget_of_their_own() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("RATE_LIMIT_USER_PER_MIN".into(), "5".into());
    })
    .await;
    let eager = app.login("eager").await;
    let calm = app.login("calm").await;
    let me = |token: &str| {
        app.http()
            .post(app.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": "{ me { id } }" }))
            .send()
    };
    for _ in 0..5 {
        assert_eq!(me(&eager.access).await.unwrap().status(), 200);
    }
    let resp = me(&eager.access).await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_error(&resp.json::<Value>().await.unwrap(), "RATE_LIMITED");
    assert_eq!(me(&calm.access).await.unwrap().status(), 200);
}

#[tokio::test]
async fn rate_limits_can_be_turned_off() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("RATE_LIMIT_SIGN_IN_PER_MIN".into(), "1".into());
        vars.insert("EMULIN_RATE_LIMIT".into(), "off".into());
    })
    .await;
    for _ in 0..4 {
        assert_eq!(login_status(&app, "olga").await.0, 200);
    }
}

/// The value of a series in Prometheus text, 0 when absent.
fn series(text: &str, name: &str) -> f64 {
    crate::helpers::series(text, name).unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_operations_errors_statements_and_store_calls() {
    let app = TestApp::spawn().await;
    let before = app.metrics().await;
    let s = app.login("mona").await;
    for _ in 0..3 {
        data(&app.op(Some(&s.access), "identity", "Me", json!({})).await);
    }
    assert_error(
        &app.op(None, "identity", "Me", json!({})).await,
        "UNAUTHENTICATED",
    );
    let after = app.metrics().await;
    assert_eq!(
        series(&after, r#"emulin_graphql_requests_total{operation="Me"}"#),
        4.0,
        "{after}"
    );
    assert_eq!(
        series(
            &after,
            r#"emulin_graphql_requests_total{operation="WechatLogin"}"#
        ),
        1.0
    );
    assert_eq!(
        series(
            &after,
            r#"emulin_graphql_errors_total{code="UNAUTHENTICATED"}"#
        ),
        1.0
    );
    assert!(
        series(
            &after,
            r#"emulin_graphql_request_duration_seconds_count{operation="Me"}"#
        ) == 4.0
    );
    assert!(
        series(&after, "emulin_db_statements_total")
            > series(&before, "emulin_db_statements_total")
    );
    // Each signed-in request checks its session: at least one store call apiece.
    assert!(
        series(&after, "emulin_redis_calls_total")
            >= series(&before, "emulin_redis_calls_total") + 4.0
    );
    assert!(after.contains("emulin_outbox_depth 0"), "{after}");
}

#[tokio::test]
async fn production_mode_hides_introspection_graphiql_and_dev_login() {
    if crate::helpers::redis_or_skip("production_mode_hides_introspection_graphiql_and_dev_login")
        .is_none()
    {
        return;
    }
    let app = TestApp::spawn_with(|vars| {
        vars.insert("EMULIN_ENV".into(), "production".into());
        vars.insert(
            "DATA_KEY".into(),
            "a production data key for the test run".into(),
        );
    })
    .await;
    let s = app.login("prudence").await;
    let resp = app
        .gql(
            Some(&s.access),
            "{ __schema { types { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        resp["data"]["__schema"],
        Value::Null,
        "introspection is off: {resp}"
    );
    assert!(!resp.to_string().contains("WishStatus"));
    let resp = app
        .gql(Some(&s.access), "{ me { nickame } }", json!({}))
        .await;
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.contains("Did you mean"),
        "no field suggestions in production: {message}"
    );
    let resp = app.http().get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(resp.status(), 400, "no GraphiQL in production");
    assert_error(
        &app.op(None, "identity", "DevLogin", json!({ "openid": "x" }))
            .await,
        "FORBIDDEN",
    );
    // The schema still answers ordinary queries.
    let me = app.op(Some(&s.access), "identity", "Me", json!({})).await;
    assert_eq!(data(&me)["me"]["id"], s.user_id.as_str());
}
