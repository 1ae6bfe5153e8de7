use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Rotation, Store, StoreError, StoreResult};

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
}
