//! Typed configuration, read once from the environment at start and passed down.

use std::net::SocketAddr;
use std::time::Duration;

use rand::RngCore;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/emulin.db?mode=rwc";
pub const DEFAULT_WECHAT_API_BASE: &str = "https://api.weixin.qq.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Debug)]
pub struct WechatConfig {
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub api_base: String,
    /// Subscribe-message template for errand status changes; unset: no such messages.
    pub template_order_status: Option<String>,
    /// Subscribe-message template for wish status changes; unset: no such messages.
    pub template_wish_status: Option<String>,
}

/// Requests allowed per minute (GCRA, so bursts up to the same number), counted in the store so
/// that every node shares them.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// False with EMULIN_RATE_LIMIT=off (benchmarks).
    pub enabled: bool,
    /// Per signed-in user.
    pub per_user: u32,
    /// Per client address.
    pub per_address: u32,
    /// Per client address, for requests that sign in or refresh a session.
    pub sign_in_per_address: u32,
    /// Take the client address from X-Forwarded-For (behind a trusted proxy) rather than the
    /// connection.
    pub trust_forwarded_for: bool,
}

/// How the subscribe-message outbox is worked off.
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// How often each node looks for due messages.
    pub poll_interval: Duration,
    /// The first retry waits this long; each further one twice as long (capped at ten minutes).
    pub retry_base: Duration,
    /// Attempts before a message that keeps failing transiently is dropped.
    pub max_attempts: i32,
}

/// Where uploaded images are kept.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// The directory of the local store (MEDIA_DIR, default `media`); created at start.
    pub dir: std::path::PathBuf,
    /// With MEDIA_S3_BUCKET set, images go to this bucket of an S3-compatible store instead,
    /// configured from the usual AWS_* variables; several nodes then share them.
    pub s3_bucket: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub env: Environment,
    pub bind_addr: SocketAddr,
    pub database_url: String,
    /// True when DATABASE_URL was not given: the embedded SQLite file, seeded with a demo district.
    pub database_is_default: bool,
    /// DATABASE_MAX_CONNECTIONS: the server's pool size. A few connections per core keep the
    /// database busy; many more only make its processes compete for the same cores.
    pub database_max_connections: u32,
    pub redis_url: Option<String>,
    /// Prefix of every key this process writes to Redis; lets several deployments (or tests)
    /// share one Redis.
    pub redis_key_prefix: String,
    pub jwt_secret: Vec<u8>,
    /// Key of the encrypted personal columns (contact phones, card notes).
    pub data_key: Vec<u8>,
    /// True when JWT_SECRET was not given and a random one was drawn for this start.
    pub jwt_secret_generated: bool,
    pub wechat: WechatConfig,
    pub outbox: OutboxConfig,
    pub rate_limits: RateLimits,
    pub district_name: String,
    pub media: MediaConfig,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub json_logs: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("production mode (EMULIN_ENV=production) needs these settings: {}", .0.join(", "))]
    MissingInProduction(Vec<&'static str>),
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn millis(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!("'{v}' is not a positive number of milliseconds"),
            }),
    }
}

fn count(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u32,
) -> Result<u32, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!("'{v}' is not a positive whole number"),
            }),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads settings through `lookup`, so tests can build configurations without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let env = match get("EMULIN_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "EMULIN_ENV",
                    reason: format!("'{other}' is neither development nor production"),
                });
            }
        };

        if env == Environment::Production {
            let missing: Vec<&'static str> = [
                "DATABASE_URL",
                "REDIS_URL",
                "JWT_SECRET",
                "WECHAT_APPID",
                "WECHAT_SECRET",
            ]
            .into_iter()
            .filter(|key| get(key).is_none())
            .collect();
            if !missing.is_empty() {
                return Err(ConfigError::MissingInProduction(missing));
            }
        }

        let bind_addr = get("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".to_owned())
            .parse()
            .map_err(|e| ConfigError::Invalid {
                name: "BIND_ADDR",
                reason: format!("{e}"),
            })?;

        let (jwt_secret, jwt_secret_generated) = match get("JWT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError::Invalid {
                    name: "JWT_SECRET",
                    reason: "must be at least 32 characters".into(),
                });
            }
            Some(secret) => (secret.into_bytes(), false),
            None => {
                let mut bytes = vec![0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                (bytes, true)
            }
        };

        // Development keeps a fixed key so data written before a restart stays readable; production
        // must bring its own (checked above).
        let data_key = get("DATA_KEY")
            .unwrap_or_else(|| "emulin-development-data-key".to_owned())
            .into_bytes();

        let database_url = get("DATABASE_URL");
        Ok(Config {
            env,
            bind_addr,
            database_is_default: database_url.is_none(),
            database_url: database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            database_max_connections: count(&get, "DATABASE_MAX_CONNECTIONS", 10)?,
            redis_url: get("REDIS_URL"),
            redis_key_prefix: get("REDIS_KEY_PREFIX").unwrap_or_else(|| "emulin:".to_owned()),
            jwt_secret,
            data_key,
            jwt_secret_generated,
            wechat: WechatConfig {
                appid: get("WECHAT_APPID"),
                secret: get("WECHAT_SECRET"),
                api_base: get("WECHAT_API_BASE")
                    .unwrap_or_else(|| DEFAULT_WECHAT_API_BASE.to_owned())
                    .trim_end_matches('/')
                    .to_owned(),
                template_order_status: get("WECHAT_TEMPLATE_ORDER_STATUS"),
                template_wish_status: get("WECHAT_TEMPLATE_WISH_STATUS"),
            },
            outbox: OutboxConfig {
                poll_interval: Duration::from_millis(millis(&get, "OUTBOX_POLL_MS", 1_000)?),
                retry_base: Duration::from_millis(millis(&get, "OUTBOX_RETRY_BASE_MS", 2_000)?),
                max_attempts: 8,
            },
            rate_limits: RateLimits {
                enabled: get("EMULIN_RATE_LIMIT").as_deref() != Some("off"),
                per_user: count(&get, "RATE_LIMIT_USER_PER_MIN", 300)?,
                per_address: count(&get, "RATE_LIMIT_ADDRESS_PER_MIN", 1_200)?,
                sign_in_per_address: count(&get, "RATE_LIMIT_SIGN_IN_PER_MIN", 30)?,
                trust_forwarded_for: get("TRUST_FORWARDED_FOR").as_deref() == Some("true"),
            },
            district_name: get("DISTRICT_NAME").unwrap_or_else(|| "万柏林区".to_owned()),
            media: MediaConfig {
                dir: get("MEDIA_DIR")
                    .unwrap_or_else(|| "media".to_owned())
                    .into(),
                s3_bucket: get("MEDIA_S3_BUCKET"),
            },
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            json_logs: env == Environment::Production
                || get("LOG_FORMAT").as_deref() == Some("json"),
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// Dev login lets a fresh checkout be tried without a WeChat app; never in production, and
    /// never once a real app is configured.
    pub fn dev_login_enabled(&self) -> bool {
        !self.is_production() && self.wechat.appid.is_none()
    }

    pub fn graphiql_enabled(&self) -> bool {
        !self.is_production()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_development_on_sqlite() {
        let c = config(&[]).unwrap();
        assert_eq!(c.env, Environment::Development);
        assert!(c.database_is_default);
        assert!(c.dev_login_enabled());
        assert!(c.jwt_secret_generated);
        assert_eq!(c.district_name, "万柏林区");
    }

    #[test]
    fn production_names_every_missing_setting() {
        let err = config(&[("EMULIN_ENV", "production"), ("REDIS_URL", "redis://x")]).unwrap_err();
        let text = err.to_string();
        for key in [
            "DATABASE_URL",
            "JWT_SECRET",
            "WECHAT_APPID",
            "WECHAT_SECRET",
        ] {
            assert!(text.contains(key), "{text}");
        }
        assert!(!text.contains("REDIS_URL"));
    }

    #[test]
    fn wechat_app_turns_dev_login_off() {
        let c = config(&[("WECHAT_APPID", "wx1"), ("WECHAT_SECRET", "s")]).unwrap();
        assert!(!c.dev_login_enabled());
    }
}
