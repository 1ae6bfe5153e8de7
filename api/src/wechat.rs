//! Client of the WeChat server API: code2Session for sign-in, the phone-number API, content
//! security (msgSecCheck v2), and the cached access token they need. The base URL is configurable so tests can point it at a fake.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

use crate::config::WechatConfig;

#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// WeChat refused the request with an errcode; nothing was done.
    #[error("wechat refused: errcode {code} ({message})")]
    Refused { code: i64, message: String },
    /// WeChat is busy (-1) or could not be reached: worth a retry.
    #[error("wechat unavailable: {0}")]
    Unavailable(String),
    #[error("wechat app is not configured")]
    NotConfigured,
}

pub type WechatResult<T> = Result<T, WechatError>;

#[derive(Debug, Clone)]
pub struct Session {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(flatten)]
    body: Option<T>,
}

#[derive(Deserialize)]
struct Code2Session {
    openid: Option<String>,
    unionid: Option<String>,
    session_key: Option<String>,
}

#[derive(Deserialize)]
struct StableToken {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct PhoneReply {
    phone_info: Option<PhoneInfo>,
}

#[derive(Deserialize)]
struct PhoneInfo {
    #[serde(rename = "purePhoneNumber")]
    pure_phone_number: String,
}

#[derive(Deserialize)]
struct SecCheckReply {
    result: Option<SecCheckResult>,
}

#[derive(Deserialize)]
struct SecCheckResult {
    suggest: String,
    #[serde(default)]
    label: i64,
}

/// msgSecCheck's scene: which kind of text is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scene {
    /// 资料: profile fields such as the nickname.
    Profile = 1,
    /// 评论: comments, notes and reasons on someone else's request.
    Comment = 2,
    /// 论坛: posts others read, such as a wish or an errand description.
    Forum = 3,
    /// 社交日志.
    SocialLog = 4,
}

/// msgSecCheck's verdict on a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggest {
    Pass,
    /// Possibly objectionable: may be published, but a person should look at it.
    Review,
    /// Must not be published.
    Risky,
}

struct CachedToken {
    token: String,
    refresh_at: Instant,
}

/// errcode 40001: the access token is invalid or was replaced; fetch a fresh one once.
const INVALID_ACCESS_TOKEN: i64 = 40001;

pub struct WechatClient {
    http: reqwest::Client,
    config: WechatConfig,
    token: Mutex<Option<CachedToken>>,
}

impl WechatClient {
    pub fn new(config: WechatConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            http,
            config,
            token: Mutex::new(None),
        })
    }

    fn app(&self) -> WechatResult<(&str, &str)> {
        match (&self.config.appid, &self.config.secret) {
            (Some(appid), Some(secret)) => Ok((appid, secret)),
            _ => Err(WechatError::NotConfigured),
        }
    }

    async fn read<T: DeserializeOwned>(
        response: reqwest::Result<reqwest::Response>,
    ) -> WechatResult<T> {
        let response = response.map_err(|e| WechatError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(WechatError::Unavailable(format!(
                "http status {}",
                response.status()
            )));
        }
        let envelope: Envelope<T> = response
            .json()
            .await
            .map_err(|e| WechatError::Unavailable(e.to_string()))?;
        match envelope.errcode {
            0 => envelope
                .body
                .ok_or_else(|| WechatError::Unavailable("empty reply".into())),
            -1 => Err(WechatError::Unavailable(format!(
                "system busy: {}",
                envelope.errmsg
            ))),
            code => Err(WechatError::Refused {
                code,
                message: envelope.errmsg,
            }),
        }
    }

    /// Exchanges a wx.login() code for the user's openid and session key.
    pub async fn code2session(&self, code: &str) -> WechatResult<Session> {
        let (appid, secret) = self.app()?;
        let url = format!("{}/sns/jscode2session", self.config.api_base);
        let reply: Code2Session = Self::read(
            self.http
                .get(url)
                .query(&[
                    ("appid", appid),
                    ("secret", secret),
                    ("js_code", code),
                    ("grant_type", "authorization_code"),
                ])
                .send()
                .await,
        )
        .await?;
        match (reply.openid, reply.session_key) {
            (Some(openid), Some(session_key)) if !openid.is_empty() => Ok(Session {
                openid,
                unionid: reply.unionid,
                session_key,
            }),
            _ => Err(WechatError::Unavailable(
                "code2session reply without openid".into(),
            )),
        }
    }

    /// The app's access token from /cgi-bin/stable_token, cached until shortly before it expires.
    async fn access_token(&self, force_refresh: bool) -> WechatResult<String> {
        let mut cached = self.token.lock().await;
        if !force_refresh
            && let Some(token) = cached.as_ref().filter(|t| t.refresh_at > Instant::now())
        {
            return Ok(token.token.clone());
        }
        let (appid, secret) = self.app()?;
        let url = format!("{}/cgi-bin/stable_token", self.config.api_base);
        let body = serde_json::json!({
            "grant_type": "client_credential",
            "appid": appid,
            "secret": secret,
            "force_refresh": force_refresh,
        });
        let reply: StableToken = Self::read(self.http.post(url).json(&body).send().await).await?;
        let token = reply
            .access_token
            .ok_or_else(|| WechatError::Unavailable("stable_token without token".into()))?;
        // Renew five minutes early so a token never expires between the check and its use.
        let lifetime =
            Duration::from_secs(reply.expires_in.unwrap_or(7200).saturating_sub(300).max(60));
        *cached = Some(CachedToken {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime,
        });
        Ok(token)
    }

    /// Calls an API that takes `access_token` in its query, refreshing the token once on 40001.
    async fn with_token<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> WechatResult<T> {
        let mut force = false;
        loop {
            let token = self.access_token(force).await?;
            let url = format!("{}{path}", self.config.api_base);
            let result = Self::read::<T>(
                self.http
                    .post(url)
                    .query(&[("access_token", token)])
                    .json(body)
                    .send()
                    .await,
            )
            .await;
            match result {
                Err(WechatError::Refused {
                    code: INVALID_ACCESS_TOKEN,
                    ..
                }) if !force => force = true,
                other => return other,
            }
        }
    }

    /// Sends a subscribe message (`/cgi-bin/message/subscribe/send`).
    pub async fn send_subscribe(
        &self,
        openid: &str,
        template_id: &str,
        page: &str,
        data: &serde_json::Value,
    ) -> WechatResult<()> {
        let body = serde_json::json!({
            "touser": openid,
            "template_id": template_id,
            "page": page,
            "data": data,
            "lang": "zh_CN",
        });
        let _: serde::de::IgnoredAny = self
            .with_token("/cgi-bin/message/subscribe/send", &body)
            .await?;
        Ok(())
    }

    /// Exchanges a getPhoneNumber button code for the user's phone number (without country code).
    pub async fn phone_number(&self, code: &str) -> WechatResult<String> {
        let reply: PhoneReply = self
            .with_token(
                "/wxa/business/getuserphonenumber",
                &serde_json::json!({ "code": code }),
            )
            .await?;
        reply
            .phone_info
            .map(|p| p.pure_phone_number)
            .ok_or_else(|| WechatError::Unavailable("phone reply without phone_info".into()))
    }

    /// Checks a user's text with msgSecCheck v2 (`/wxa/msg_sec_check`). `openid` is the author,
    /// who must have used the mini-program within the last two hours. Without a configured
    /// WeChat app (development) nothing is sent and every text passes.
    pub async fn msg_sec_check(
        &self,
        openid: &str,
        scene: Scene,
        content: &str,
    ) -> WechatResult<Suggest> {
        if self.app().is_err() {
            return Ok(Suggest::Pass);
        }
        let body = serde_json::json!({
            "content": content,
            "version": 2,
            "scene": scene as i32,
            "openid": openid,
        });
        let reply: SecCheckReply = self.with_token("/wxa/msg_sec_check", &body).await?;
        let result = reply
            .result
            .ok_or_else(|| WechatError::Unavailable("msg_sec_check reply without result".into()))?;
        Ok(match result.suggest.as_str() {
            "pass" => Suggest::Pass,
            "risky" => Suggest::Risky,
            other => {
                if other != "review" {
                    tracing::warn!(suggest = other, "unknown msg_sec_check suggestion");
                }
                tracing::debug!(label = result.label, "content to review");
                Suggest::Review
            }
        })
    }
}
