//! The key-value store behind sessions (and, later, rate limits and leaderboards): Redis when
//! REDIS_URL is set, an in-process map otherwise. Both implement [`Store`]; one test suite runs
//! against each.

mod counted;
mod memory;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use self::counted::Counted;
pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

pub type StoreResult<T> = Result<T, StoreError>;

/// What became of a refresh-token rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was the current one; the new one replaces it.
    Rotated { user_id: i64 },
    /// The presented token had already been used: the session is now revoked.
    Reused,
    /// No such session, or a token this session never issued.
    Unknown,
}

/// The verdict of a rate limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    Allowed,
    Limited { retry_after: Duration },
}

/// One rate limit a request counts against: at most `limit` requests per `period` under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    pub key: String,
    pub limit: u32,
    pub period: Duration,
}

/// The store's answer to [`Store::admit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The session's user; `None` when no session was asked about or it has ended.
    pub session_user: Option<i64>,
    pub throttle: Throttle,
}

#[async_trait]
pub trait Store: Send + Sync {
    /// "redis" or "memory", for logs and /readyz.
    fn kind(&self) -> &'static str;

    async fn ping(&self) -> StoreResult<()>;

    /// Creates a session whose current refresh token has the given hash.
    async fn create_session(
        &self,
        sid: &str,
        user_id: i64,
        refresh_hash: &str,
        ttl: Duration,
    ) -> StoreResult<()>;

    /// The user of a live session.
    async fn session_user(&self, sid: &str) -> StoreResult<Option<i64>>;

    /// Atomically replaces the session's refresh hash `presented` by `next`. Presenting a hash
    /// that was current once but has been rotated away revokes the session.
    async fn rotate_refresh(
        &self,
        sid: &str,
        presented: &str,
        next: &str,
        ttl: Duration,
    ) -> StoreResult<Rotation>;

    async fn delete_session(&self, sid: &str) -> StoreResult<()>;

    /// Adds to members' scores in sorted sets, all in one round trip: `(key, member, delta)`.
    async fn zincr_many(&self, ops: &[(String, String, f64)]) -> StoreResult<()>;

    /// The `n` highest members of a sorted set with their scores, highest first; equal scores in
    /// a fixed order.
    async fn ztop(&self, key: &str, n: usize) -> StoreResult<Vec<(String, f64)>>;

    /// A member's 0-based position counted from the highest score, if present.
    async fn zrank_desc(&self, key: &str, member: &str) -> StoreResult<Option<u64>>;

    /// Replaces every sorted set whose key starts with `prefix` by `sets`: sets not listed are
    /// deleted, each listed one is swapped in whole.
    async fn replace_sorted_sets(
        &self,
        prefix: &str,
        sets: Vec<(String, Vec<(String, f64)>)>,
    ) -> StoreResult<()>;

    /// Counts one request against `key` under a GCRA limit of `limit` requests per `period`
    /// (bursts up to `limit`). Answers how long to wait when the request is over the limit.
    async fn throttle(&self, key: &str, limit: u32, period: Duration) -> StoreResult<Throttle>;

    /// Everything the HTTP layer asks the store before running a request: the user of the
    /// session a token names, and each of the request's rate limits. Redis answers it in one
    /// round trip. The first limit exceeded decides the wait.
    async fn admit(&self, sid: Option<&str>, limits: &[RateLimit]) -> StoreResult<Admission> {
        let session_user = match sid {
            Some(sid) => self.session_user(sid).await?,
            None => None,
        };
        let mut throttle = Throttle::Allowed;
        for limit in limits {
            let verdict = self.throttle(&limit.key, limit.limit, limit.period).await?;
            if throttle == Throttle::Allowed {
                throttle = verdict;
            }
        }
        Ok(Admission {
            session_user,
            throttle,
        })
    }

    async fn get(&self, key: &str) -> StoreResult<Option<String>>;

    async fn set(&self, key: &str, value: &str) -> StoreResult<()>;
}

pub type DynStore = Arc<dyn Store>;

/// Connects to Redis when a URL is given, else builds the in-process store.
pub async fn connect(redis_url: Option<&str>, prefix: &str) -> anyhow::Result<DynStore> {
    match redis_url {
        Some(url) => Ok(Arc::new(RedisStore::connect(url, prefix).await?)),
        None => Ok(Arc::new(MemoryStore::default())),
    }
}
