//! Starts the real server on port 0 for each test, with its own database (a fresh SQLite file, or
//! a freshly created PostgreSQL database when TEST_DATABASE_URL is set), its own Redis key
//! namespace and the fake WeChat server, and speaks HTTP to it as the mini-program does.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use api::config::Config;
use rand::Rng;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};

use crate::fake_wechat::{self, FakeWechat};

/// Where the tests' Redis is, decided once per test run.
#[derive(Clone, Debug)]
pub enum RedisChoice {
    Url(String),
    /// No Redis anywhere: the in-process store stands in (refused when
    /// EMULIN_TEST_REQUIRE_REDIS=1).
    Memory,
}

static REDIS: OnceLock<RedisChoice> = OnceLock::new();

fn loud(message: &str) {
    // Written to the process's stderr directly so the test harness's capture does not hide it.
    let bar = "=".repeat(78);
    let _ = writeln!(std::io::stderr(), "\n{bar}\n{message}\n{bar}\n");
}

fn redis_answers(addr: &str) -> bool {
    let Ok(mut stream) =
        std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_millis(300))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    use std::io::Read;
    matches!(stream.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

fn start_redis_server() -> Option<String> {
    let status = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .ok()?;
    if !status.status.success() {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    // A watchdog shell stops the server when this test process exits.
    let script = format!(
        "redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & r=$!; \
         while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill $r",
        parent = std::process::id()
    );
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .spawn()
        .ok()?;
    let addr = format!("127.0.0.1:{port}");
    for _ in 0..50 {
        if redis_answers(&addr) {
            return Some(format!("redis://{addr}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

pub fn redis_choice() -> RedisChoice {
    REDIS
        .get_or_init(|| {
            let required = std::env::var("EMULIN_TEST_REQUIRE_REDIS").is_ok_and(|v| v == "1");
            if let Ok(url) = std::env::var("REDIS_URL") {
                return RedisChoice::Url(url);
            }
            if redis_answers("127.0.0.1:6379") {
                return RedisChoice::Url("redis://127.0.0.1:6379".into());
            }
            if let Some(url) = start_redis_server() {
                loud(&format!("tests: started a private redis-server at {url}"));
                return RedisChoice::Url(url);
            }
            if required {
                panic!(
                    "EMULIN_TEST_REQUIRE_REDIS=1 but no Redis: REDIS_URL is unset, nothing answers on \
                     127.0.0.1:6379 and no redis-server binary could be started"
                );
            }
            loud(
                "WARNING: NO REDIS FOUND (REDIS_URL unset, 127.0.0.1:6379 silent, no redis-server binary).\n\
                 The suite runs on the IN-PROCESS STORE: multi-node tests cannot share sessions.\n\
                 Install redis-server or set REDIS_URL for the real thing.",
            );
            RedisChoice::Memory
        })
        .clone()
}

pub fn redis_url() -> Option<String> {
    match redis_choice() {
        RedisChoice::Url(url) => Some(url),
        RedisChoice::Memory => None,
    }
}

fn random_suffix() -> String {
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// A database for one test: its URL and what keeps it alive.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn fresh_database() -> TestDb {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let name = format!("emulin_test_{}", random_suffix());
            let admin = Database::connect(&base)
                .await
                .expect("TEST_DATABASE_URL does not answer");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            admin.close().await.unwrap();
            let (prefix, _) = base
                .rsplit_once('/')
                .expect("TEST_DATABASE_URL needs a database name");
            TestDb {
                url: format!("{prefix}/{name}"),
                _dir: None,
            }
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/emulin.db?mode=rwc", dir.path().display());
            TestDb {
                url,
                _dir: Some(dir),
            }
        }
    }
}

/// Redis for a test that cannot run without it. On the in-process fallback (allowed only outside
/// CI) the test says loudly that it did not run and why.
pub fn redis_or_skip(test: &str) -> Option<String> {
    let url = redis_url();
    if url.is_none() {
        loud(&format!(
            "SKIPPED {test}: it needs a real Redis and none was found"
        ));
    }
    url
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub config: Config,
    pub wechat: FakeWechat,
    pub db: DatabaseConnection,
    http: reqwest::Client,
    _database: std::sync::Arc<TestDb>,
    /// The uploads' directory (MEDIA_DIR), removed with the last node of the test.
    media: std::sync::Arc<tempfile::TempDir>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A signed-in test user.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server; `tweak` may change the configuration first.
    pub async fn spawn_with(tweak: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
        // The servers' logs, when asked for with RUST_LOG.
        if std::env::var("RUST_LOG").is_ok() {
            // The log writer lives as long as the test process.
            std::mem::forget(api::telemetry::init(false));
        }
        let wechat = FakeWechat::start().await;
        let database = std::sync::Arc::new(fresh_database().await);
        let media = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let mut vars: HashMap<String, String> = HashMap::from([
            ("BIND_ADDR".into(), "127.0.0.1:0".into()),
            ("DATABASE_URL".into(), database.url.clone()),
            (
                "MEDIA_DIR".into(),
                media.path().join("media").display().to_string(),
            ),
            (
                "JWT_SECRET".into(),
                format!("test-secret-{}-{}", random_suffix(), random_suffix()),
            ),
            (
                "REDIS_KEY_PREFIX".into(),
                format!("emulin-test:{}:", random_suffix()),
            ),
            ("WECHAT_APPID".into(), fake_wechat::APPID.into()),
            ("WECHAT_SECRET".into(), fake_wechat::SECRET.into()),
            ("WECHAT_API_BASE".into(), wechat.base_url()),
            ("WECHAT_TEMPLATE_ORDER_STATUS".into(), "tpl-order".into()),
            ("WECHAT_TEMPLATE_WISH_STATUS".into(), "tpl-wish".into()),
            ("OUTBOX_POLL_MS".into(), "50".into()),
            ("OUTBOX_RETRY_BASE_MS".into(), "50".into()),
            // Every test's server sees all its traffic from 127.0.0.1; the limits are tested
            // on their own, with small numbers.
            ("RATE_LIMIT_ADDRESS_PER_MIN".into(), "100000".into()),
            ("RATE_LIMIT_SIGN_IN_PER_MIN".into(), "100000".into()),
        ]);
        if let Some(url) = redis_url() {
            vars.insert("REDIS_URL".into(), url);
        }
        tweak(&mut vars);
        let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        Self::start(config, wechat, database, media).await
    }

    /// Another server node sharing this one's database, Redis namespace, signing key and WeChat.
    pub async fn second_node(&self) -> TestApp {
        Self::start(
            self.config.clone(),
            self.wechat.clone(),
            self._database.clone(),
            self.media.clone(),
        )
        .await
    }

    async fn start(
        config: Config,
        wechat: FakeWechat,
        database: std::sync::Arc<TestDb>,
        media: std::sync::Arc<tempfile::TempDir>,
    ) -> TestApp {
        let app = api::App::build(config.clone())
            .await
            .expect("server failed to start");
        let addr = app.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            app.serve(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let db = api::db::connect(&config.database_url).await.unwrap();
        TestApp {
            addr,
            config,
            wechat,
            db,
            http: reqwest::Client::new(),
            _database: database,
            media,
            _shutdown: tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The directory the server keeps uploaded images in.
    pub fn media_dir(&self) -> std::path::PathBuf {
        self.config.media.dir.clone()
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// POSTs a GraphQL request and answers the JSON body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        self.gql_named(token, query, None, variables).await
    }

    async fn gql_named(
        &self,
        token: Option<&str>,
        query: &str,
        operation: Option<&str>,
        variables: Value,
    ) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "operationName": operation, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        assert!(
            resp.status().is_success(),
            "HTTP {} for {query}",
            resp.status()
        );
        resp.json().await.unwrap()
    }

    /// Runs one operation of the client contract exactly as written in `tests/contract/`.
    pub async fn op(
        &self,
        token: Option<&str>,
        capability: &str,
        operation: &str,
        variables: Value,
    ) -> Value {
        let text = contract_operation(capability, operation);
        self.gql_named(token, &text, Some(operation), variables)
            .await
    }

    /// Signs in through wechatLogin (the fake WeChat) as openid `o-<name>`.
    pub async fn login(&self, name: &str) -> Session {
        let code = format!("{name}#{}", random_suffix());
        let resp = self
            .op(None, "identity", "WechatLogin", json!({ "code": code }))
            .await;
        let login = data(&resp)["wechatLogin"].clone();
        Session {
            user_id: login["user"]["id"].as_str().unwrap().to_owned(),
            access: login["accessToken"].as_str().unwrap().to_owned(),
            refresh: login["refreshToken"].as_str().unwrap().to_owned(),
        }
    }

    /// Grants a role the way `emulin admin grant` does, for setting up admins.
    pub async fn grant(&self, name: &str, role: entity::role_grant::Role, area_id: &str) {
        let user = api::identity::find_or_create_user(&self.db, &format!("o-{name}"))
            .await
            .unwrap();
        api::org::grant(&self.db, user.id, role, area_id.parse().unwrap(), None)
            .await
            .unwrap();
    }

    /// The server's `/metrics` page (Prometheus text).
    pub async fn metrics(&self) -> String {
        self.http()
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub async fn root_area_id(&self) -> String {
        let root = api::db::ensure_root_area(&self.db, "unused").await.unwrap();
        root.id.to_string()
    }

    /// Creates an area as the given admin and answers its id.
    pub async fn create_area(
        &self,
        admin: &Session,
        parent: &str,
        kind: &str,
        name: &str,
    ) -> String {
        let resp = self
            .op(
                Some(&admin.access),
                "org",
                "CreateArea",
                json!({ "input": { "parentId": parent, "kind": kind, "name": name } }),
            )
            .await;
        data(&resp)["createArea"]["id"].as_str().unwrap().to_owned()
    }
}

/// Waits (at most ten seconds) until `check` holds, for effects that happen in the background.
pub async fn eventually(what: &str, check: impl FnMut() -> bool) {
    eventually_within(what, Duration::from_secs(10), check).await;
}

/// Waits at most `limit` until `check` holds.
pub async fn eventually_within(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(check(), "timed out waiting until {what}");
}

/// The text of one operation of a contract file: from its keyword to the next operation.
pub fn contract_operation(capability: &str, operation: &str) -> String {
    let document = contract_document(capability);
    let starts_operation = |line: &str| {
        ["query ", "mutation ", "subscription "]
            .iter()
            .any(|k| line.starts_with(k))
    };
    let mut text = String::new();
    let mut inside = false;
    for line in document.lines() {
        if starts_operation(line) {
            let name = line.split_whitespace().nth(1).unwrap_or_default();
            inside = name.split(['(', '{']).next() == Some(operation);
        }
        if inside {
            text.push_str(line);
            text.push('\n');
        }
    }
    assert!(
        !text.is_empty(),
        "no operation {operation} in {capability}.graphql"
    );
    text
}

pub fn contract_document(capability: &str) -> String {
    let path = format!(
        "{}/tests/contract/{capability}.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The `data` of a response that must have no errors.
pub fn data(resp: &Value) -> &Value {
    assert!(resp.get("errors").is_none(), "unexpected errors: {resp}");
    &resp["data"]
}

/// The `extensions.code` of the first error.
pub fn error_code(resp: &Value) -> &str {
    resp["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| {
            let text = resp.to_string();
            panic!(
                "expected an error: {}",
                text.chars().take(600).collect::<String>()
            )
        })
}

pub fn assert_error(resp: &Value, code: &str) {
    assert_eq!(error_code(resp), code, "{resp}");
    let message = resp["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    for leak in [
        "sqlx", "sqlite", "postgres", "sql", "panicked", "redis", "dberr",
    ] {
        assert!(
            !message.contains(leak),
            "internal detail '{leak}' in error message: {resp}"
        );
    }
}

/// The value of a series in Prometheus text, if present.
pub fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
