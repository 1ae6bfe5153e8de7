//! Live updates at /graphql/ws, driven by a third-party client: the `graphql-ws` npm package run
//! by tests/live/subscribe.mjs, which prints every event, error and close as one JSON line.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{
    Session, TestApp, contract_operation, data, eventually_within, redis_or_skip,
};
use crate::orders::{errands, placed};
use crate::wishes::{neighbourhood, neighbourhood_on, post_wish};

/// Node and the client's start can be slow on a busy machine: waits are generous.
const WAIT: Duration = Duration::from_secs(30);

fn client_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/live"))
}

/// Installs the client's pinned packages once per test run when they are missing.
fn ensure_client() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let dir = client_dir();
        if dir.join("node_modules/graphql-ws").is_dir() && dir.join("node_modules/ws").is_dir() {
            return;
        }
        let cache = std::env::var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|_| std::env::var("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|_| std::env::temp_dir())
            .join("emulin-npm");
        let output = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--cache"])
            .arg(&cache)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("tests/live needs npm to install its client: {e}"));
        assert!(
            output.status.success(),
            "`npm ci` in tests/live failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// One running `subscribe.mjs` and the lines it printed so far.
struct Subscriber {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<Value>>>,
    /// The subscription's field in `data`: `wishUpdated` or `orderUpdated`.
    field: &'static str,
}

impl Subscriber {
    /// Subscribes with the contract's operation (`WishUpdated` or `OrderUpdated`) on `app`'s
    /// /graphql/ws; `token` None sends an empty connection_init payload.
    async fn start(app: &TestApp, token: Option<&str>, operation: &str, id: &str) -> Subscriber {
        let query = contract_operation("notify", operation);
        Self::start_query(app, token, operation, &query, id).await
    }

    /// Subscribes with a document of the test's own, named `operation`.
    async fn start_query(
        app: &TestApp,
        token: Option<&str>,
        operation: &str,
        query: &str,
        id: &str,
    ) -> Subscriber {
        ensure_client();
        let field = match operation {
            "WishUpdated" => "wishUpdated",
            "OrderUpdated" => "orderUpdated",
            other => panic!("no subscription {other}"),
        };
        let spec = json!({
            "token": token,
            "query": query,
            "operationName": operation,
            "variables": { "id": id },
        });
        let mut child = tokio::process::Command::new(node())
            .arg(client_dir().join("subscribe.mjs"))
            .arg(format!("ws://{}/graphql/ws", app.addr))
            .arg(spec.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("node could not be started: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().unwrap();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({ "event": "unparsed", "line": line }));
                sink.lock().unwrap().push(value);
            }
        });
        Subscriber {
            child,
            lines,
            field,
        }
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// The rows the subscription delivered, in order.
    fn rows(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter(|l| l["event"] == "next" && l["payload"].get("errors").is_none())
            .map(|l| l["payload"]["data"][self.field].clone())
            .collect()
    }

    fn statuses(&self) -> Vec<String> {
        self.rows()
            .iter()
            .map(|r| r["status"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits until the delivered statuses are exactly `expected`.
    async fn wait_for_statuses(&self, expected: &[&str]) {
        let what = format!("the subscriber has seen {expected:?}");
        eventually_within(&what, WAIT, || self.statuses() == expected).await;
        assert_eq!(self.statuses(), expected, "{:?}", self.lines());
    }

    /// Waits until the socket closed, and answers its close code.
    async fn close_code(&self) -> i64 {
        eventually_within("the socket closed", WAIT, || {
            self.lines().iter().any(|l| l["event"] == "closed")
        })
        .await;
        let lines = self.lines();
        let closed = lines.iter().find(|l| l["event"] == "closed").unwrap();
        closed["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{lines:?}"))
    }

    /// Waits for the subscription to end with an error, and answers its `extensions.code`.
    async fn error_code(&self) -> String {
        let errored = |l: &Value| l["event"] == "next" && l["payload"].get("errors").is_some();
        eventually_within("the subscription answered an error", WAIT, || {
            self.lines().iter().any(errored)
        })
        .await;
        let lines = self.lines();
        let error = lines.iter().find(|l| errored(l)).unwrap();
        assert!(
            error["payload"]["data"].is_null(),
            "an error must come without data: {lines:?}"
        );
        error["payload"]["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {lines:?}"))
            .to_owned()
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn node() -> &'static str {
    if std::path::Path::new("/usr/bin/node").exists() {
        "/usr/bin/node"
    } else {
        "node"
    }
}

async fn open_sockets(app: &TestApp) -> i64 {
    let text = app.metrics().await;
    crate::helpers::series(&text, "emulin_ws_connections")
        .unwrap_or_else(|| panic!("no emulin_ws_connections in /metrics")) as i64
}

async fn wish_act(app: &TestApp, who: &Session, operation: &str, id: &str) -> Value {
    app.op(Some(&who.access), "wishes", operation, json!({ "id": id }))
        .await
}

#[tokio::test]
async fn the_poster_and_the_claimant_follow_a_wish() {
    let n = neighbourhood().await;
    let app = &n.app;
    let id = post_wish(app, &n.resident, "帮忙修自行车").await;
    let other = post_wish(app, &n.resident, "帮忙搬花盆").await;

    let poster = Subscriber::start(app, Some(&n.resident.access), "WishUpdated", &id).await;
    // Any field of the wish may be followed, relations included.
    let related = Subscriber::start_query(
        app,
        Some(&n.resident.access),
        "WishUpdated",
        "subscription WishUpdated($id: ID!) { wishUpdated(id: $id) { id status poster { id } claimant { id } } }",
        &id,
    )
    .await;
    // The first answer is the wish as it is, so nothing that follows can slip past unseen.
    poster.wait_for_statuses(&["OPEN"]).await;
    related.wait_for_statuses(&["OPEN"]).await;
    data(&wish_act(app, &n.member, "ClaimWish", &id).await);
    poster.wait_for_statuses(&["OPEN", "CLAIMED"]).await;
    related.wait_for_statuses(&["OPEN", "CLAIMED"]).await;
    let rows = related.rows();
    assert_eq!(rows[0]["claimant"], Value::Null);
    assert_eq!(rows[1]["claimant"]["id"], n.member.user_id.as_str());
    assert_eq!(rows[1]["poster"]["id"], n.resident.user_id.as_str());
    related.stop().await;

    let claimant = Subscriber::start(app, Some(&n.member.access), "WishUpdated", &id).await;
    claimant.wait_for_statuses(&["CLAIMED"]).await;
    // Another wish's changes reach neither.
    data(&wish_act(app, &n.volunteer, "ClaimWish", &other).await);
    let resp = app
        .op(
            Some(&n.member.access),
            "wishes",
            "FulfillWish",
            json!({ "id": id, "note": "修好了" }),
        )
        .await;
    data(&resp);
    poster
        .wait_for_statuses(&["OPEN", "CLAIMED", "FULFILLED"])
        .await;
    data(&wish_act(app, &n.resident, "ConfirmWish", &id).await);
    poster
        .wait_for_statuses(&["OPEN", "CLAIMED", "FULFILLED", "CONFIRMED"])
        .await;
    claimant
        .wait_for_statuses(&["CLAIMED", "FULFILLED", "CONFIRMED"])
        .await;
    for row in poster.rows().iter().chain(claimant.rows().iter()) {
        assert_eq!(row["id"], id.as_str(), "{row}");
    }

    // A client that goes away leaves nothing behind on the server.
    wait_for_open_sockets(app, 2).await;
    poster.stop().await;
    claimant.stop().await;
    wait_for_open_sockets(app, 0).await;
}

async fn wait_for_open_sockets(app: &TestApp, expected: i64) {
    let mut open = -1;
    for _ in 0..300 {
        open = open_sockets(app).await;
        if open == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, expected, "open sockets in /metrics");
}

#[tokio::test]
async fn errand_participants_follow_their_errand() {
    let e = errands().await;
    let app = &e.n.app;
    let id = placed(app, &e.n.resident, &e.item_a).await;
    let resident = Subscriber::start(app, Some(&e.n.resident.access), "OrderUpdated", &id).await;
    resident.wait_for_statuses(&["PLACED"]).await;

    let act = |who: &Session, operation: &str, vars: Value| {
        let token = who.access.clone();
        let operation = operation.to_owned();
        async move { app.op(Some(&token), "orders", &operation, vars).await }
    };
    data(&act(&e.steward, "AcceptOrder", json!({ "id": id })).await);
    resident.wait_for_statuses(&["PLACED", "ACCEPTED"]).await;
    let steward = Subscriber::start(app, Some(&e.steward.access), "OrderUpdated", &id).await;
    steward.wait_for_statuses(&["ACCEPTED"]).await;

    let property_id = e.property.user_id.clone();
    data(
        &act(
            &e.steward,
            "DispatchOrder",
            json!({ "id": id, "assigneeId": property_id }),
        )
        .await,
    );
    let assignee = Subscriber::start(app, Some(&e.property.access), "OrderUpdated", &id).await;
    assignee.wait_for_statuses(&["DISPATCHED"]).await;
    data(
        &act(
            &e.property,
            "CompleteOrder",
            json!({ "id": id, "note": "已送达" }),
        )
        .await,
    );
    resident
        .wait_for_statuses(&["PLACED", "ACCEPTED", "DISPATCHED", "COMPLETED"])
        .await;
    steward
        .wait_for_statuses(&["ACCEPTED", "DISPATCHED", "COMPLETED"])
        .await;
    assignee
        .wait_for_statuses(&["DISPATCHED", "COMPLETED"])
        .await;
    for row in resident.rows() {
        assert_eq!(row["id"], id.as_str());
    }
}

#[tokio::test]
async fn outsiders_are_forbidden_and_unknown_ids_not_found() {
    let e = errands().await;
    let app = &e.n.app;
    let wish = post_wish(app, &e.n.resident, "帮忙取快递").await;
    let order = placed(app, &e.n.resident, &e.item_a).await;
    let bystander = app.login("bystander").await;

    // Staff who could accept the errand are not its participants until they do.
    for (who, operation, id) in [
        (&bystander, "WishUpdated", wish.as_str()),
        (&e.n.member, "WishUpdated", wish.as_str()),
        (&bystander, "OrderUpdated", order.as_str()),
        (&e.steward, "OrderUpdated", order.as_str()),
    ] {
        let s = Subscriber::start(app, Some(&who.access), operation, id).await;
        assert_eq!(
            s.error_code().await,
            "FORBIDDEN",
            "{operation} {:?}",
            s.lines()
        );
        assert!(s.rows().is_empty());
    }
    for (operation, id) in [("WishUpdated", "999999"), ("OrderUpdated", "nope")] {
        let s = Subscriber::start(app, Some(&e.n.resident.access), operation, id).await;
        assert_eq!(
            s.error_code().await,
            "NOT_FOUND",
            "{operation} {:?}",
            s.lines()
        );
    }
}

#[tokio::test]
async fn a_missing_forged_or_ended_token_closes_with_4401() {
    let n = neighbourhood().await;
    let app = &n.app;
    let id = post_wish(app, &n.resident, "帮忙买菜").await;

    let now = chrono::Utc::now().timestamp();
    let forged = jsonwebtoken::encode(
        &Header::default(),
        &json!({ "sub": n.resident.user_id, "sid": "x", "iat": now, "exp": now + 600 }),
        &EncodingKey::from_secret(b"someone-elses-secret-of-32-bytes!!"),
    )
    .unwrap();
    let ended = app.login("leaver").await;
    data(
        &app.op(Some(&ended.access), "identity", "Logout", json!({}))
            .await,
    );

    for token in [
        None,
        Some(""),
        Some("garbage"),
        Some(forged.as_str()),
        Some(ended.access.as_str()),
    ] {
        let s = Subscriber::start(app, token, "WishUpdated", &id).await;
        assert_eq!(
            s.close_code().await,
            4401,
            "token {token:?}: {:?}",
            s.lines()
        );
        assert!(s.rows().is_empty());
        assert!(!s.lines().iter().any(|l| l["event"] == "connected"));
    }

    // The same socket with a good token is acknowledged.
    let s = Subscriber::start(app, Some(&n.resident.access), "WishUpdated", &id).await;
    s.wait_for_statuses(&["OPEN"]).await;
}

#[tokio::test]
async fn a_change_on_one_node_reaches_subscribers_on_another() {
    if redis_or_skip("a_change_on_one_node_reaches_subscribers_on_another").is_none() {
        return;
    }
    let n = neighbourhood().await;
    let a = &n.app;
    let b = a.second_node().await;
    let id = post_wish(a, &n.resident, "帮忙贴春联").await;

    let on_b = Subscriber::start(&b, Some(&n.resident.access), "WishUpdated", &id).await;
    on_b.wait_for_statuses(&["OPEN"]).await;
    data(&wish_act(a, &n.member, "ClaimWish", &id).await);
    on_b.wait_for_statuses(&["OPEN", "CLAIMED"]).await;
    // And back the other way.
    let on_a = Subscriber::start(a, Some(&n.member.access), "WishUpdated", &id).await;
    on_a.wait_for_statuses(&["CLAIMED"]).await;
    data(&wish_act(&b, &n.member, "ReleaseWish", &id).await);
    on_b.wait_for_statuses(&["OPEN", "CLAIMED", "OPEN"]).await;
    // The claimant who gave the wish back takes no part in it any more: their stream ends.
    eventually_within("the former claimant's subscription completed", WAIT, || {
        on_a.lines().iter().any(|l| l["event"] == "complete")
    })
    .await;
    assert_eq!(on_a.statuses(), ["CLAIMED"]);
}

#[tokio::test]
async fn without_redis_one_node_serves_its_own_subscribers() {
    let app = TestApp::spawn_with(|vars| {
        vars.remove("REDIS_URL");
    })
    .await;
    let n = neighbourhood_on(app).await;
    let app = &n.app;
    let id = post_wish(app, &n.resident, "帮忙换灯泡").await;
    let s = Subscriber::start(app, Some(&n.resident.access), "WishUpdated", &id).await;
    s.wait_for_statuses(&["OPEN"]).await;
    data(&wish_act(app, &n.resident, "CancelWish", &id).await);
    s.wait_for_statuses(&["OPEN", "CANCELLED"]).await;
}

/// A redis-server of this test's own, so that its connections can be cut without touching
/// anyone else's.
struct PrivateRedis {
    url: String,
    _server: tokio::process::Child,
}

impl PrivateRedis {
    async fn start() -> Option<PrivateRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let url = format!("redis://127.0.0.1:{port}");
        let client = redis::Client::open(url.as_str()).unwrap();
        for _ in 0..100 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return Some(PrivateRedis {
                    url,
                    _server: server,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// Cuts every pub/sub connection, as a Redis failover or a network blip would.
    async fn cut_pubsub(&self) -> i64 {
        let client = redis::Client::open(self.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", "pubsub"])
            .query_async(&mut conn)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_relay_reconnects_when_redis_drops_it() {
    if redis_or_skip("the_relay_reconnects_when_redis_drops_it").is_none() {
        return;
    }
    let Some(redis) = PrivateRedis::start().await else {
        assert!(
            std::env::var("EMULIN_TEST_REQUIRE_REDIS").as_deref() != Ok("1"),
            "EMULIN_TEST_REQUIRE_REDIS=1 but no private redis-server could be started"
        );
        eprintln!("SKIPPED the_relay_reconnects_when_redis_drops_it: no redis-server binary");
        return;
    };
    let url = redis.url.clone();
    let app = TestApp::spawn_with(move |vars| {
        vars.insert("REDIS_URL".into(), url);
    })
    .await;
    let n = neighbourhood_on(app).await;
    let a = &n.app;
    let b = a.second_node().await;
    let id = post_wish(a, &n.resident, "帮忙收衣服").await;
    let on_b = Subscriber::start(&b, Some(&n.resident.access), "WishUpdated", &id).await;
    on_b.wait_for_statuses(&["OPEN"]).await;

    assert_eq!(
        redis.cut_pubsub().await,
        2,
        "one pub/sub connection per node"
    );
    // Published while B may still be reconnecting: B catches up once it is back.
    data(&wish_act(a, &n.member, "ClaimWish", &id).await);
    on_b.wait_for_statuses(&["OPEN", "CLAIMED"]).await;
    // And once back, B hears of the next change as it happens.
    eventually_within("both nodes subscribed again", WAIT, || {
        std::process::Command::new("redis-cli")
            .args(["-u", &redis.url, "PUBSUB", "NUMSUB"])
            .arg(format!("{}live", a.config.redis_key_prefix))
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().nth(1) == Some("2"))
    })
    .await;
    data(&wish_act(a, &n.member, "FulfillWish", &id).await);
    on_b.wait_for_statuses(&["OPEN", "CLAIMED", "FULFILLED"])
        .await;
}
