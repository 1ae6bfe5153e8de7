use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::{Admission, RateLimit, Rotation, Store, StoreError, StoreResult, Throttle};

/// Sessions in Redis, shared by every server node. A session is one hash,
/// `{prefix}sess:{sid}`, holding the user id, the current refresh-token hash and the hashes
/// already rotated away (`u:<hash>`), so reuse of an old token is recognised and revokes it.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    rotate: Script,
    throttle: Script,
}

impl From<redis::RedisError> for StoreError {
    fn from(err: redis::RedisError) -> Self {
        StoreError(err.to_string())
    }
}

// One script, so that two nodes refreshing the same token at once cannot both win.
const ROTATE: &str = r"
local current = redis.call('HGET', KEYS[1], 'rh')
if not current then return {0} end
if current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'rh', ARGV[2], 'u:' .. ARGV[1], '1')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {1, redis.call('HGET', KEYS[1], 'uid')}
end
if redis.call('HEXISTS', KEYS[1], 'u:' .. ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1])
  return {2}
end
return {0}
";

// GCRA: the key holds the theoretical arrival time (TAT) in milliseconds of Redis' own clock, so
// every node agrees. A request is allowed while TAT - now <= tolerance; it pushes TAT one emission
// interval further.
const THROTTLE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tolerance then
  return tat - now - tolerance
end
redis.call('SET', KEYS[1], tat + interval, 'PX', tat + interval - now)
return 0
";

/// The limiter's emission interval and burst tolerance in milliseconds.
fn gcra(limit: u32, period: Duration) -> (u64, u64) {
    let interval = (period.as_millis() as u64 / u64::from(limit.max(1))).max(1);
    (
        interval,
        (period.as_millis() as u64).saturating_sub(interval),
    )
}

fn parsing(err: redis::ParsingError) -> StoreError {
    StoreError(err.to_string())
}

fn verdict(wait_ms: u64) -> Throttle {
    if wait_ms == 0 {
        Throttle::Allowed
    } else {
        Throttle::Limited {
            retry_after: Duration::from_millis(wait_ms),
        }
    }
}

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(3)))
            .set_response_timeout(Some(Duration::from_secs(3)))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            rotate: Script::new(ROTATE),
            throttle: Script::new(THROTTLE),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn session_key(&self, sid: &str) -> String {
        // The hash tag keeps everything about one session on one Redis Cluster slot.
        format!("{}sess:{{{sid}}}", self.prefix)
    }
}

#[async_trait]
impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    async fn create_session(
        &self,
        sid: &str,
        user_id: i64,
        refresh_hash: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        let key = self.session_key(sid);
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(
                &key,
                &[
                    ("uid", user_id.to_string()),
                    ("rh", refresh_hash.to_owned()),
                ],
            )
            .ignore()
            .pexpire(&key, ttl.as_millis() as i64)
            .ignore()
            .query_async::<()>(&mut conn)
            .await?;
        Ok(())
    }

    async fn session_user(&self, sid: &str) -> StoreResult<Option<i64>> {
        let mut conn = self.conn.clone();
        let uid: Option<String> = conn.hget(self.session_key(sid), "uid").await?;
        Ok(uid.and_then(|v| v.parse().ok()))
    }

    async fn rotate_refresh(
        &self,
        sid: &str,
        presented: &str,
        next: &str,
        ttl: Duration,
    ) -> StoreResult<Rotation> {
        let mut conn = self.conn.clone();
        // The script answers {status} or {1, user id}; integers read as strings here.
        let reply: Vec<String> = self
            .rotate
            .key(self.session_key(sid))
            .arg(presented)
            .arg(next)
            .arg(ttl.as_millis() as u64)
            .invoke_async(&mut conn)
            .await?;
        Ok(match (reply.first().map(String::as_str), reply.get(1)) {
            (Some("1"), Some(uid)) => Rotation::Rotated {
                user_id: uid
                    .parse()
                    .map_err(|_| StoreError("bad user id in session".into()))?,
            },
            (Some("2"), _) => Rotation::Reused,
            _ => Rotation::Unknown,
        })
    }

    async fn delete_session(&self, sid: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: i64 = conn.del(self.session_key(sid)).await?;
        Ok(())
    }

    async fn zincr_many(&self, ops: &[(String, String, f64)]) -> StoreResult<()> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (key, member, delta) in ops {
            pipe.zincr(self.key(key), member, *delta).ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn ztop(&self, key: &str, n: usize) -> StoreResult<Vec<(String, f64)>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        Ok(conn
            .zrevrange_withscores(self.key(key), 0, n as isize - 1)
            .await?)
    }

    async fn zrank_desc(&self, key: &str, member: &str) -> StoreResult<Option<u64>> {
        let mut conn = self.conn.clone();
        Ok(conn.zrevrank(self.key(key), member).await?)
    }

    async fn replace_sorted_sets(
        &self,
        prefix: &str,
        sets: Vec<(String, Vec<(String, f64)>)>,
    ) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", self.key(prefix));
        let mut stale: std::collections::HashSet<String> = std::collections::HashSet::new();
        {
            let mut iter: redis::AsyncIter<String> = conn.scan_match(&pattern).await?;
            while let Some(key) = iter.next_item().await {
                stale.insert(key?);
            }
        }
        // Each set is built under a temporary key with the same hash tag and renamed over the
        // old one, so readers never see a half-built board.
        const CHUNK: usize = 5_000;
        let mut pipe = redis::pipe();
        let mut queued = 0;
        for (key, members) in sets {
            let key = self.key(&key);
            stale.remove(&key);
            let tmp = format!("{key}:rebuild");
            pipe.del(&tmp).ignore();
            for chunk in members.chunks(CHUNK) {
                let items: Vec<(f64, &str)> = chunk.iter().map(|(m, s)| (*s, m.as_str())).collect();
                pipe.zadd_multiple(&tmp, &items).ignore();
                queued += chunk.len();
            }
            if members.is_empty() {
                pipe.del(&key).ignore();
            } else {
                pipe.rename(&tmp, &key).ignore();
            }
            if queued >= CHUNK * 4 {
                pipe.query_async::<()>(&mut conn).await?;
                pipe = redis::pipe();
                queued = 0;
            }
        }
        for key in stale {
            pipe.del(key).ignore();
        }
        if !pipe.is_empty() {
            pipe.query_async::<()>(&mut conn).await?;
        }
        Ok(())
    }

    async fn throttle(&self, key: &str, limit: u32, period: Duration) -> StoreResult<Throttle> {
        let (interval, tolerance) = gcra(limit, period);
        let mut conn = self.conn.clone();
        let wait_ms: u64 = self
            .throttle
            .key(self.key(key))
            .arg(interval)
            .arg(tolerance)
            .invoke_async(&mut conn)
            .await?;
        Ok(verdict(wait_ms))
    }

    async fn admit(&self, sid: Option<&str>, limits: &[RateLimit]) -> StoreResult<Admission> {
        if sid.is_none() && limits.is_empty() {
            return Ok(Admission {
                session_user: None,
                throttle: Throttle::Allowed,
            });
        }
        let mut conn = self.conn.clone();
        let mut invocations = Vec::with_capacity(limits.len());
        for limit in limits {
            let (interval, tolerance) = gcra(limit.limit, limit.period);
            let mut invocation = self.throttle.key(self.key(&limit.key));
            invocation.arg(interval).arg(tolerance);
            invocations.push(invocation);
        }
        let mut pipe = redis::pipe();
        if let Some(sid) = sid {
            pipe.hget(self.session_key(sid), "uid");
        }
        for invocation in &invocations {
            pipe.invoke_script(invocation);
        }
        let replies: Vec<redis::Value> = match pipe.query_async(&mut conn).await {
            Ok(replies) => replies,
            // A pipeline cannot load scripts on the fly: after a Redis restart (or on first
            // use) load the limiter once and ask again.
            Err(err)
                if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) =>
            {
                self.throttle.load_async(&mut conn).await?;
                pipe.query_async(&mut conn).await?
            }
            Err(err) => return Err(err.into()),
        };
        let mut replies = replies.into_iter();
        let session_user = match sid {
            Some(_) => {
                let uid: Option<String> =
                    redis::from_redis_value(replies.next().unwrap_or(redis::Value::Nil))
                        .map_err(parsing)?;
                uid.and_then(|v| v.parse().ok())
            }
            None => None,
        };
        let mut throttle = Throttle::Allowed;
        for reply in replies {
            let wait_ms: u64 = redis::from_redis_value(reply).map_err(parsing)?;
            if throttle == Throttle::Allowed {
                throttle = verdict(wait_ms);
            }
        }
        Ok(Admission {
            session_user,
            throttle,
        })
    }

    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        let mut conn = self.conn.clone();
        Ok(conn.get(self.key(key)).await?)
    }

    async fn set(&self, key: &str, value: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        let _: () = conn.set(self.key(key), value).await?;
        Ok(())
    }
}
