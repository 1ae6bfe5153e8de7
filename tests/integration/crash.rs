//! Everything acknowledged survives `kill -9` of the server process.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{contract_operation, fresh_database, redis_url};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(database_url: &str, prefix: &str, port: u16) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_emulin"));
    cmd.env_clear()
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env("JWT_SECRET", "a fixed secret for the crash test, 32+ chars")
        .env("REDIS_KEY_PREFIX", prefix)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = redis_url() {
        cmd.env("REDIS_URL", url);
    }
    let child = cmd.spawn().unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server did not start");
}

async fn op(
    server: &Server,
    token: Option<&str>,
    capability: &str,
    name: &str,
    variables: Value,
) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("{}/graphql", server.url))
        .json(&json!({
            "query": contract_operation(capability, name),
            "operationName": name,
            "variables": variables,
        }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let database = fresh_database().await;
    let prefix = format!("emulin-test:crash:{}:", rand::random::<u64>());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let mut server = start(&database.url, &prefix, port);
    let resp = op(
        &server,
        None,
        "identity",
        "DevLogin",
        json!({ "openid": "o-durable" }),
    )
    .await;
    let token = resp["data"]["devLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = op(
        &server,
        Some(&token),
        "identity",
        "UpdateProfile",
        json!({ "input": { "nickname": "持久" } }),
    )
    .await;
    assert_eq!(
        resp["data"]["updateProfile"]["nickname"], "持久",
        "acknowledged: {resp}"
    );
    let resp = op(
        &server,
        Some(&token),
        "notify",
        "RecordSubscriptions",
        json!({ "templateIds": ["tpl-a"] }),
    )
    .await;
    assert_eq!(
        resp["data"]["recordSubscriptions"][0]["remaining"], 1,
        "{resp}"
    );

    // SIGKILL: no shutdown code runs.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = start(&database.url, &prefix, port);
    let resp = op(
        &server,
        None,
        "identity",
        "DevLogin",
        json!({ "openid": "o-durable" }),
    )
    .await;
    let token2 = resp["data"]["devLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = op(&server, Some(&token2), "identity", "Me", json!({})).await;
    assert_eq!(me["data"]["me"]["nickname"], "持久");
    let resp = op(
        &server,
        Some(&token2),
        "notify",
        "RecordSubscriptions",
        json!({ "templateIds": ["tpl-a"] }),
    )
    .await;
    assert_eq!(
        resp["data"]["recordSubscriptions"][0]["remaining"], 2,
        "the first acceptance was kept: {resp}"
    );
    if redis_url().is_some() {
        // Sessions live in Redis, not in the process: the old token still works.
        let me = op(&server, Some(&token), "identity", "Me", json!({})).await;
        assert_eq!(me["data"]["me"]["nickname"], "持久", "{me}");
    }
}
