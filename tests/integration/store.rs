//! One suite for both implementations of the store: Redis and the in-process stand-in.

use std::sync::Arc;
use std::time::Duration;

use api::store::{DynStore, MemoryStore, RedisStore, Rotation, Throttle};

use crate::helpers::redis_or_skip;

async fn sessions_behave(store: DynStore) {
    let ttl = Duration::from_secs(60);
    store.ping().await.unwrap();
    assert_eq!(store.session_user("nope").await.unwrap(), None);
    store.create_session("s1", 7, "h1", ttl).await.unwrap();
    assert_eq!(store.session_user("s1").await.unwrap(), Some(7));

    assert_eq!(
        store.rotate_refresh("s1", "h1", "h2", ttl).await.unwrap(),
        Rotation::Rotated { user_id: 7 }
    );
    assert_eq!(
        store.rotate_refresh("s1", "h2", "h3", ttl).await.unwrap(),
        Rotation::Rotated { user_id: 7 }
    );
    // A hash never issued: unknown, the session lives on.
    assert_eq!(
        store
            .rotate_refresh("s1", "forged", "h9", ttl)
            .await
            .unwrap(),
        Rotation::Unknown
    );
    assert_eq!(store.session_user("s1").await.unwrap(), Some(7));
    // A rotated-away hash: reuse, the session dies.
    assert_eq!(
        store.rotate_refresh("s1", "h1", "h9", ttl).await.unwrap(),
        Rotation::Reused
    );
    assert_eq!(store.session_user("s1").await.unwrap(), None);
    assert_eq!(
        store.rotate_refresh("s1", "h3", "h4", ttl).await.unwrap(),
        Rotation::Unknown
    );

    store.create_session("s2", 8, "a", ttl).await.unwrap();
    store.delete_session("s2").await.unwrap();
    assert_eq!(store.session_user("s2").await.unwrap(), None);

    // Sessions expire.
    store
        .create_session("s3", 9, "a", Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(store.session_user("s3").await.unwrap(), Some(9));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(store.session_user("s3").await.unwrap(), None);

    // Rate limits: a burst of `limit`, then a wait of about one interval.
    let period = Duration::from_millis(900);
    for _ in 0..3 {
        assert_eq!(
            store.throttle("rl:t", 3, period).await.unwrap(),
            Throttle::Allowed
        );
    }
    let Throttle::Limited { retry_after } = store.throttle("rl:t", 3, period).await.unwrap() else {
        panic!("the fourth request within the burst must be limited");
    };
    assert!(retry_after <= Duration::from_millis(300), "{retry_after:?}");
    assert_eq!(
        store.throttle("rl:other", 3, period).await.unwrap(),
        Throttle::Allowed
    );
    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert_eq!(
        store.throttle("rl:t", 3, period).await.unwrap(),
        Throttle::Allowed
    );

    // Of two concurrent rotations of one token exactly one wins.
    store.create_session("s4", 10, "t0", ttl).await.unwrap();
    let (a, b) = tokio::join!(
        store.rotate_refresh("s4", "t0", "ta", ttl),
        store.rotate_refresh("s4", "t0", "tb", ttl)
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, Rotation::Rotated { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn memory_store_sessions() {
    sessions_behave(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn redis_store_sessions() {
    let Some(url) = redis_or_skip("redis_store_sessions") else {
        return;
    };
    let prefix = format!("emulin-test:store:{}:", rand::random::<u64>());
    sessions_behave(Arc::new(RedisStore::connect(&url, &prefix).await.unwrap())).await;
}
