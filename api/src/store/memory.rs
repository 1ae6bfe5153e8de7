use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Rotation, Store, StoreError, StoreResult, Throttle};

struct Session {
    user_id: i64,
    refresh_hash: String,
    used: HashSet<String>,
    expires_at: Instant,
}

/// The single-node stand-in for Redis: sessions live in this process and die with it.
#[derive(Default)]
pub struct MemoryStore {
    sessions: Mutex<HashMap<String, Session>>,
    sorted_sets: Mutex<HashMap<String, HashMap<String, f64>>>,
    /// Theoretical arrival times of the rate limiters (GCRA).
    limiters: Mutex<HashMap<String, Instant>>,
    values: Mutex<HashMap<String, String>>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError("in-process store lock poisoned".into())
}

/// Highest score first; equal scores by member, descending, as Redis' ZREVRANGE orders them.
fn ranked(set: &HashMap<String, f64>) -> Vec<(String, f64)> {
    let mut members: Vec<(String, f64)> = set.iter().map(|(m, s)| (m.clone(), *s)).collect();
    members.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    members
}

impl MemoryStore {
    fn sessions(&self) -> StoreResult<std::sync::MutexGuard<'_, HashMap<String, Session>>> {
        self.sessions
            .lock()
            .map_err(|_| StoreError("in-process store lock poisoned".into()))
    }
}

#[async_trait]
impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn create_session(
        &self,
        sid: &str,
        user_id: i64,
        refresh_hash: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        let mut sessions = self.sessions()?;
        let now = Instant::now();
        sessions.retain(|_, s| s.expires_at > now);
        sessions.insert(
            sid.to_owned(),
            Session {
                user_id,
                refresh_hash: refresh_hash.to_owned(),
                used: HashSet::new(),
                expires_at: now + ttl,
            },
        );
        Ok(())
    }

    async fn session_user(&self, sid: &str) -> StoreResult<Option<i64>> {
        let sessions = self.sessions()?;
        Ok(sessions
            .get(sid)
            .filter(|s| s.expires_at > Instant::now())
            .map(|s| s.user_id))
    }

    async fn rotate_refresh(
        &self,
        sid: &str,
        presented: &str,
        next: &str,
        ttl: Duration,
    ) -> StoreResult<Rotation> {
        let mut sessions = self.sessions()?;
        let Some(session) = sessions
            .get_mut(sid)
            .filter(|s| s.expires_at > Instant::now())
        else {
            return Ok(Rotation::Unknown);
        };
        if session.refresh_hash == presented {
            let old = std::mem::replace(&mut session.refresh_hash, next.to_owned());
            session.used.insert(old);
            session.expires_at = Instant::now() + ttl;
            return Ok(Rotation::Rotated {
                user_id: session.user_id,
            });
        }
        if session.used.contains(presented) {
            sessions.remove(sid);
            return Ok(Rotation::Reused);
        }
        Ok(Rotation::Unknown)
    }

    async fn delete_session(&self, sid: &str) -> StoreResult<()> {
        self.sessions()?.remove(sid);
        Ok(())
    }

    async fn zincr_many(&self, ops: &[(String, String, f64)]) -> StoreResult<()> {
        let mut sets = self.sorted_sets.lock().map_err(poisoned)?;
        for (key, member, delta) in ops {
            *sets
                .entry(key.clone())
                .or_default()
                .entry(member.clone())
                .or_default() += delta;
        }
        Ok(())
    }

    async fn ztop(&self, key: &str, n: usize) -> StoreResult<Vec<(String, f64)>> {
        let sets = self.sorted_sets.lock().map_err(poisoned)?;
        Ok(sets
            .get(key)
            .map(|set| ranked(set).into_iter().take(n).collect())
            .unwrap_or_default())
    }

    async fn zrank_desc(&self, key: &str, member: &str) -> StoreResult<Option<u64>> {
        let sets = self.sorted_sets.lock().map_err(poisoned)?;
        Ok(sets.get(key).and_then(|set| {
            ranked(set)
                .iter()
                .position(|(m, _)| m == member)
                .map(|p| p as u64)
        }))
    }

    async fn replace_sorted_sets(
        &self,
        prefix: &str,
        new: Vec<(String, Vec<(String, f64)>)>,
    ) -> StoreResult<()> {
        let mut sets = self.sorted_sets.lock().map_err(poisoned)?;
        sets.retain(|key, _| !key.starts_with(prefix));
        for (key, members) in new {
            sets.insert(key, members.into_iter().collect());
        }
        Ok(())
    }

    async fn throttle(&self, key: &str, limit: u32, period: Duration) -> StoreResult<Throttle> {
        let mut limiters = self.limiters.lock().map_err(poisoned)?;
        let now = Instant::now();
        let interval = period / limit.max(1);
        let tolerance = period.saturating_sub(interval);
        if limiters.len() > 100_000 {
            limiters.retain(|_, tat| *tat > now);
        }
        let tat = limiters
            .get(key)
            .copied()
            .filter(|tat| *tat > now)
            .unwrap_or(now);
        let ahead = tat - now;
        if ahead > tolerance {
            return Ok(Throttle::Limited {
                retry_after: ahead - tolerance,
            });
        }
        limiters.insert(key.to_owned(), tat + interval);
        Ok(Throttle::Allowed)
    }

    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self.values.lock().map_err(poisoned)?.get(key).cloned())
    }

    async fn set(&self, key: &str, value: &str) -> StoreResult<()> {
        self.values
            .lock()
            .map_err(poisoned)?
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }
}
