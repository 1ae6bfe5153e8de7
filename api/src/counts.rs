//! `totalCount` for the busiest lists. Counting a district's 100,000 wishes costs far more than
//! reading a page of them, and every resident opening the feed asks the same question. A count
//! is kept per filter for a few seconds and dropped as soon as a wish or errand changes: at
//! once on the node that made the change, and on the others when the live-update bus brings
//! the news. Filters that name the viewer (mine, claimed by me) count a handful of rows through
//! an index and are not kept.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;
use tokio::sync::{broadcast, watch};

use crate::error::{AppError, AppResult};
use crate::live::Bus;

/// Long enough to absorb a burst of readers, short enough that a missed message heals soon.
const TTL: Duration = Duration::from_secs(10);
const CAPACITY: u64 = 10_000;

pub struct Counts {
    cache: Cache<String, u64>,
}

impl Default for Counts {
    fn default() -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(TTL)
                .build(),
        }
    }
}

impl Counts {
    /// The count kept for `key`, or `count`'s answer, kept. Concurrent readers of one key wait
    /// for a single count rather than each running it.
    pub async fn get_or_count(
        &self,
        key: String,
        count: impl Future<Output = AppResult<u64>>,
    ) -> AppResult<u64> {
        self.cache
            .try_get_with(key, count)
            .await
            .map_err(|err: Arc<AppError>| (*err).clone())
    }

    /// Something changed: every kept count may be wrong.
    pub fn invalidate(&self) {
        self.cache.invalidate_all();
    }

    /// Drops the kept counts whenever another node reports a change, until `shutdown`.
    pub async fn follow(self: Arc<Self>, bus: Arc<Bus>, mut shutdown: watch::Receiver<bool>) {
        let mut changes = bus.changes();
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.invalidate(),
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = shutdown.changed() => {
                    if *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }
}
