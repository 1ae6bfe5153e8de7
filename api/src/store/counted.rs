use std::time::Duration;

use async_trait::async_trait;
use prometheus_client::metrics::counter::Counter;

use super::{Admission, DynStore, RateLimit, Rotation, Store, StoreResult, Throttle};

/// Counts every call to the store it wraps, for `emulin_redis_calls_total`.
pub struct Counted {
    inner: DynStore,
    calls: Counter,
}

impl Counted {
    pub fn new(inner: DynStore, calls: Counter) -> Self {
        Self { inner, calls }
    }
}

#[async_trait]
impl Store for Counted {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.calls.inc();
        self.inner.ping().await
    }

    async fn create_session(
        &self,
        sid: &str,
        user_id: i64,
        refresh_hash: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        self.calls.inc();
        self.inner
            .create_session(sid, user_id, refresh_hash, ttl)
            .await
    }

    async fn session_user(&self, sid: &str) -> StoreResult<Option<i64>> {
        self.calls.inc();
        self.inner.session_user(sid).await
    }

    async fn rotate_refresh(
        &self,
        sid: &str,
        presented: &str,
        next: &str,
        ttl: Duration,
    ) -> StoreResult<Rotation> {
        self.calls.inc();
        self.inner.rotate_refresh(sid, presented, next, ttl).await
    }

    async fn delete_session(&self, sid: &str) -> StoreResult<()> {
        self.calls.inc();
        self.inner.delete_session(sid).await
    }

    async fn zincr_many(&self, ops: &[(String, String, f64)]) -> StoreResult<()> {
        self.calls.inc();
        self.inner.zincr_many(ops).await
    }

    async fn ztop(&self, key: &str, n: usize) -> StoreResult<Vec<(String, f64)>> {
        self.calls.inc();
        self.inner.ztop(key, n).await
    }

    async fn zrank_desc(&self, key: &str, member: &str) -> StoreResult<Option<u64>> {
        self.calls.inc();
        self.inner.zrank_desc(key, member).await
    }

    async fn replace_sorted_sets(
        &self,
        prefix: &str,
        sets: Vec<(String, Vec<(String, f64)>)>,
    ) -> StoreResult<()> {
        self.calls.inc();
        self.inner.replace_sorted_sets(prefix, sets).await
    }

    async fn throttle(&self, key: &str, limit: u32, period: Duration) -> StoreResult<Throttle> {
        self.calls.inc();
        self.inner.throttle(key, limit, period).await
    }

    async fn admit(&self, sid: Option<&str>, limits: &[RateLimit]) -> StoreResult<Admission> {
        self.calls.inc();
        self.inner.admit(sid, limits).await
    }

    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        self.calls.inc();
        self.inner.get(key).await
    }

    async fn set(&self, key: &str, value: &str) -> StoreResult<()> {
        self.calls.inc();
        self.inner.set(key, value).await
    }
}
