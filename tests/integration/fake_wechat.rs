//! A fake of the WeChat server API on loopback, speaking its documented contract: the same
//! paths, parameters, reply fields and `errcode`s.
//!
//! Login codes: `<name>` or `<name>#<nonce>` signs in the openid `o-<name>`; each code works
//! once (40163 after). Codes starting with `invalid` answer 40029, `blocked` 40226, `busy` -1.
//! Phone codes: `phone:<number>` answers that number; `invalid...` 40029, `busy` -1.
//! Content security (msgSecCheck v2): text containing 违禁 is risky, 待审 review, 忙碌 answers
//! -1; anything else passes.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub const APPID: &str = "wx-test-app";
pub const SECRET: &str = "wx-test-secret";

#[derive(Default)]
struct Inner {
    used_codes: HashSet<String>,
    token_serial: u64,
    current_token: Option<String>,
    stable_token_calls: u64,
    phone_calls: u64,
    /// Subscribe sends still to answer with -1 (system busy).
    busy_sends: u64,
    send_attempts: u64,
    sent: Vec<SentMessage>,
    sec_checks: Vec<SecCheck>,
}

/// A msgSecCheck request the fake received with a valid token.
#[derive(Clone, Debug)]
pub struct SecCheck {
    pub openid: String,
    pub scene: i64,
    pub content: String,
}

/// A subscribe message the fake accepted.
#[derive(Clone, Debug)]
pub struct SentMessage {
    pub touser: String,
    pub template_id: String,
    pub page: String,
    pub data: Value,
}

#[derive(Clone, Default)]
pub struct FakeWechat {
    inner: Arc<Mutex<Inner>>,
    pub addr: Option<SocketAddr>,
}

impl FakeWechat {
    pub async fn start() -> FakeWechat {
        let mut fake = FakeWechat::default();
        let router = Router::new()
            .route("/sns/jscode2session", get(code2session))
            .route("/cgi-bin/stable_token", post(stable_token))
            .route("/wxa/business/getuserphonenumber", post(phone_number))
            .route("/cgi-bin/message/subscribe/send", post(subscribe_send))
            .route("/wxa/msg_sec_check", post(msg_sec_check))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.addr = Some(listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        fake
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr.unwrap())
    }

    /// WeChat replaces the app's access token (another client forced a refresh): the server's
    /// cached one now answers 40001.
    pub fn rotate_access_token(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.token_serial += 1;
        inner.current_token = Some(format!("token-{}", inner.token_serial));
    }

    pub fn stable_token_calls(&self) -> u64 {
        self.inner.lock().unwrap().stable_token_calls
    }

    pub fn phone_calls(&self) -> u64 {
        self.inner.lock().unwrap().phone_calls
    }

    /// The next `n` subscribe sends answer -1.
    pub fn fail_next_sends(&self, n: u64) {
        self.inner.lock().unwrap().busy_sends = n;
    }

    pub fn sent(&self) -> Vec<SentMessage> {
        self.inner.lock().unwrap().sent.clone()
    }

    pub fn send_attempts(&self) -> u64 {
        self.inner.lock().unwrap().send_attempts
    }

    /// Content checks answered with a valid token, whatever their outcome.
    pub fn sec_check_calls(&self) -> u64 {
        self.inner.lock().unwrap().sec_checks.len() as u64
    }

    pub fn sec_checks(&self) -> Vec<SecCheck> {
        self.inner.lock().unwrap().sec_checks.clone()
    }
}

fn err(code: i64, msg: &str) -> Json<Value> {
    Json(json!({ "errcode": code, "errmsg": msg }))
}

#[derive(Deserialize)]
struct Code2SessionQuery {
    appid: String,
    secret: String,
    js_code: String,
    grant_type: String,
}

async fn code2session(
    State(fake): State<FakeWechat>,
    Query(q): Query<Code2SessionQuery>,
) -> Json<Value> {
    if q.appid != APPID {
        return err(40013, "invalid appid");
    }
    if q.secret != SECRET {
        return err(40125, "invalid appsecret");
    }
    if q.grant_type != "authorization_code" {
        return err(40002, "invalid grant_type");
    }
    let code = q.js_code;
    if code.starts_with("invalid") {
        return err(40029, "invalid code");
    }
    if code.starts_with("blocked") {
        return err(40226, "high risk user");
    }
    if code.starts_with("busy") {
        return err(-1, "system error");
    }
    if !fake.inner.lock().unwrap().used_codes.insert(code.clone()) {
        return err(40163, "code been used");
    }
    let name = code.split('#').next().unwrap_or_default();
    Json(json!({ "openid": format!("o-{name}"), "session_key": format!("sk-{code}") }))
}

#[derive(Deserialize)]
struct StableTokenBody {
    grant_type: String,
    appid: String,
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

async fn stable_token(
    State(fake): State<FakeWechat>,
    Json(body): Json<StableTokenBody>,
) -> Json<Value> {
    if body.grant_type != "client_credential" {
        return err(40002, "invalid grant_type");
    }
    if body.appid != APPID || body.secret != SECRET {
        return err(40125, "invalid appsecret");
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.stable_token_calls += 1;
    if body.force_refresh || inner.current_token.is_none() {
        inner.token_serial += 1;
        inner.current_token = Some(format!("token-{}", inner.token_serial));
    }
    Json(json!({ "access_token": inner.current_token.clone(), "expires_in": 7200 }))
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: String,
}

#[derive(Deserialize)]
struct PhoneBody {
    code: String,
}

async fn phone_number(
    State(fake): State<FakeWechat>,
    Query(q): Query<TokenQuery>,
    Json(body): Json<PhoneBody>,
) -> Json<Value> {
    {
        let mut inner = fake.inner.lock().unwrap();
        inner.phone_calls += 1;
        if inner.current_token.as_deref() != Some(q.access_token.as_str()) {
            return err(
                40001,
                "invalid credential, access_token is invalid or not latest",
            );
        }
    }
    if body.code.starts_with("invalid") {
        return err(40029, "invalid code");
    }
    if body.code.starts_with("busy") {
        return err(-1, "system error");
    }
    let Some(number) = body.code.strip_prefix("phone:") else {
        return err(40029, "invalid code");
    };
    Json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": number,
            "purePhoneNumber": number,
            "countryCode": "86",
            "watermark": { "timestamp": 1_700_000_000, "appid": APPID }
        }
    }))
}

#[derive(Deserialize)]
struct SubscribeBody {
    touser: String,
    template_id: String,
    #[serde(default)]
    page: String,
    data: Value,
}

/// Value limits of subscribe-message fields, by key prefix.
fn field_limit(key: &str) -> Option<usize> {
    let kind: String = key
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect();
    match kind.as_str() {
        "thing" => Some(20),
        "phrase" => Some(5),
        "character_string" => Some(32),
        "number" => Some(32),
        "time" | "date" => Some(32),
        _ => None,
    }
}

async fn subscribe_send(
    State(fake): State<FakeWechat>,
    Query(q): Query<TokenQuery>,
    Json(body): Json<SubscribeBody>,
) -> Json<Value> {
    let mut inner = fake.inner.lock().unwrap();
    inner.send_attempts += 1;
    if inner.current_token.as_deref() != Some(q.access_token.as_str()) {
        return err(
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    }
    if inner.busy_sends > 0 {
        inner.busy_sends -= 1;
        return err(-1, "system error");
    }
    if body.template_id == "bad-template" {
        return err(40037, "invalid template_id");
    }
    if body.touser.contains("refuser") {
        return err(43101, "user refuse to accept the msg");
    }
    let Some(fields) = body.data.as_object() else {
        return err(47003, "argument invalid! data");
    };
    for (key, field) in fields {
        let value = field["value"].as_str().unwrap_or_default();
        match field_limit(key) {
            Some(max) if value.chars().count() <= max && !value.is_empty() => {}
            _ => return err(47003, &format!("argument invalid! data.{key}.value")),
        }
    }
    inner.sent.push(SentMessage {
        touser: body.touser,
        template_id: body.template_id,
        page: body.page,
        data: body.data,
    });
    Json(json!({ "errcode": 0, "errmsg": "ok" }))
}

#[derive(Deserialize)]
struct SecCheckBody {
    content: String,
    #[serde(default)]
    version: i64,
    #[serde(default)]
    scene: i64,
    #[serde(default)]
    openid: String,
}

fn suggestion(suggest: &str, label: i64) -> Json<Value> {
    Json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "result": { "suggest": suggest, "label": label },
        "detail": [{
            "strategy": "content_model",
            "errcode": 0,
            "suggest": suggest,
            "label": label,
            "prob": 90,
        }],
        "trace_id": "fake-trace",
    }))
}

async fn msg_sec_check(
    State(fake): State<FakeWechat>,
    Query(q): Query<TokenQuery>,
    Json(body): Json<SecCheckBody>,
) -> Json<Value> {
    let mut inner = fake.inner.lock().unwrap();
    if inner.current_token.as_deref() != Some(q.access_token.as_str()) {
        return err(
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    }
    inner.sec_checks.push(SecCheck {
        openid: body.openid.clone(),
        scene: body.scene,
        content: body.content.clone(),
    });
    if body.version != 2 || !(1..=4).contains(&body.scene) {
        return err(47001, "data format error");
    }
    if body.openid.is_empty() {
        return err(40003, "invalid openid");
    }
    if body.content.contains("忙碌") {
        return err(-1, "system error");
    }
    if body.content.contains("违禁") {
        return suggestion("risky", 20006);
    }
    if body.content.contains("待审") {
        return suggestion("review", 21000);
    }
    suggestion("pass", 100)
}
