//! One suite for both implementations of the store: Redis and the in-process stand-in.

use std::sync::Arc;
use std::time::Duration;

use api::store::{Admission, DynStore, MemoryStore, RateLimit, RedisStore, Rotation, Throttle};

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

/// The request gate: one call answers the session and every limit.
async fn admission_behaves(store: DynStore) {
    let ttl = Duration::from_secs(60);
    let period = Duration::from_secs(60);
    let limits = |user: u32| {
        vec![
            RateLimit {
                key: "rl:a:addr".into(),
                limit: 5,
                period,
            },
            RateLimit {
                key: "rl:a:user".into(),
                limit: user,
                period,
            },
        ]
    };
    store.create_session("as1", 42, "h", ttl).await.unwrap();
    let admitted = store.admit(Some("as1"), &limits(2)).await.unwrap();
    assert_eq!(
        admitted,
        Admission {
            session_user: Some(42),
            throttle: Throttle::Allowed
        }
    );
    assert_eq!(
        store.admit(Some("gone"), &[]).await.unwrap(),
        Admission {
            session_user: None,
            throttle: Throttle::Allowed
        }
    );
    assert_eq!(
        store.admit(None, &limits(2)).await.unwrap().throttle,
        Throttle::Allowed
    );
    // The user's budget of 2 is spent; the address still has room, yet the request is limited.
    let third = store.admit(Some("as1"), &limits(2)).await.unwrap();
    assert_eq!(third.session_user, Some(42));
    assert!(
        matches!(third.throttle, Throttle::Limited { retry_after } if retry_after > Duration::ZERO),
        "{third:?}"
    );
    // Without a session id and limits the answer is empty, not an error.
    assert_eq!(
        store.admit(None, &[]).await.unwrap(),
        Admission {
            session_user: None,
            throttle: Throttle::Allowed
        }
    );
}

#[tokio::test]
async fn memory_store_sessions() {
    sessions_behave(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn memory_store_admission() {
    admission_behaves(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn redis_store_admission_survives_a_script_cache_flush() {
    let Some(url) = redis_or_skip("redis_store_admission_survives_a_script_cache_flush") else {
        return;
    };
    let prefix = format!("emulin-test:admit:{}:", rand::random::<u64>());
    let store: DynStore = Arc::new(RedisStore::connect(&url, &prefix).await.unwrap());
    // A restarted Redis has no scripts loaded; the pipelined limiter must load it and go on.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut conn)
        .await
        .unwrap();
    admission_behaves(store).await;
}

#[tokio::test]
async fn redis_store_sessions() {
    let Some(url) = redis_or_skip("redis_store_sessions") else {
        return;
    };
    let prefix = format!("emulin-test:store:{}:", rand::random::<u64>());
    sessions_behave(Arc::new(RedisStore::connect(&url, &prefix).await.unwrap())).await;
}
