//! The Redis backend against a real `redis-server` (started per test on a free port).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mathapi_sequence::testing::{RedisServer, free_port};
use mathapi_sequence::{
    CommitHook, OpenError, RedisConfig, RedisStore, SequenceError, SequenceStore, Store,
    StoreConfig,
};

fn open(url: &str) -> RedisStore {
    RedisStore::open(&RedisConfig::new(url), None).expect("open the Redis store")
}

async fn wait_until_ready(store: &impl SequenceStore) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !store.ready().await {
        assert!(Instant::now() < deadline, "the store never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn walk_and_conflicts() {
    let server = RedisServer::start();
    let store = Store::open(&StoreConfig::Redis(RedisConfig::new(server.url())), None).unwrap();
    assert_eq!(store.backend_name(), "redis");
    assert!(store.ready().await);
    common::walk_and_conflicts(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_nexts_return_distinct_indices() {
    let server = RedisServer::start();
    let store = open(&server.url());
    common::concurrent_nexts(store.clone(), 200).await;
    common::concurrent_nexts(store, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_nexts_stop_at_max() {
    let server = RedisServer::start();
    common::concurrent_nexts_stop_at_max(open(&server.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mixed_steps() {
    let server = RedisServer::start();
    common::concurrent_mixed_steps(open(&server.url())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_share_one_sequence() {
    let server = RedisServer::start();
    // Separate stores are separate connections, as separate replicas would have.
    let replicas = [open(&server.url()), open(&server.url())];
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = replicas[i % 2].clone();
            tokio::spawn(async move { store.next(u64::MAX).await.unwrap() })
        })
        .collect();
    let mut indices = Vec::new();
    for task in tasks {
        indices.push(task.await.unwrap());
    }
    indices.sort_unstable();
    assert_eq!(indices, (1..=200).collect::<Vec<_>>());
    for replica in &replicas {
        assert_eq!(replica.current().await.unwrap(), 200);
    }
}

#[tokio::test]
async fn the_key_is_configurable_and_holds_a_plain_integer() {
    let server = RedisServer::start();
    let mut config = RedisConfig::new(server.url());
    config.key = "test:other".into();
    let other = RedisStore::open(&config, None).unwrap();
    let default = open(&server.url());
    assert_eq!(other.next(10).await.unwrap(), 1);
    assert_eq!(other.next(10).await.unwrap(), 2);
    assert_eq!(default.current().await.unwrap(), 0);

    // Read it back with a raw client, independently of the store.
    let client = redis::Client::open(server.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let raw: String = redis::cmd("GET")
        .arg("test:other")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(raw, "2");
    let default_exists: bool = redis::cmd("EXISTS")
        .arg(mathapi_sequence::DEFAULT_REDIS_KEY)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(!default_exists, "the other store wrote the default key");

    // A value the store did not write is a storage error, not a silent reset.
    let () = redis::cmd("SET")
        .arg("test:other")
        .arg("not a number")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(matches!(other.next(10).await, Err(SequenceError::Io(_))));
    assert!(matches!(other.current().await, Err(SequenceError::Io(_))));
}

#[tokio::test]
async fn commits_are_reported_to_the_hook() {
    let server = RedisServer::start();
    let commits = Arc::new(AtomicU64::new(0));
    let hook: CommitHook = {
        let commits = commits.clone();
        Arc::new(move |_| {
            commits.fetch_add(1, Ordering::Relaxed);
        })
    };
    let store = RedisStore::open(&RedisConfig::new(server.url()), Some(hook)).unwrap();
    store.next(1).await.unwrap();
    store.next(1).await.unwrap_err(); // conflict: nothing committed
    store.previous().await.unwrap();
    store.previous().await.unwrap_err();
    store.reset().await.unwrap();
    store.current().await.unwrap();
    assert_eq!(commits.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn unreachable_at_startup_then_works_once_redis_is_up() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    let store = open(&url);
    assert!(!store.ready().await);
    for _ in 0..3 {
        let started = Instant::now();
        assert!(matches!(
            store.next(10).await,
            Err(SequenceError::Unavailable(_))
        ));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "failing took too long"
        );
        assert!(matches!(
            store.current().await,
            Err(SequenceError::Unavailable(_))
        ));
        assert!(matches!(
            store.reset().await,
            Err(SequenceError::Unavailable(_))
        ));
    }

    let dir = tempfile::tempdir().unwrap();
    let _server = RedisServer::start_on(port, dir.path());
    wait_until_ready(&store).await;
    assert_eq!(store.next(10).await.unwrap(), 1);
    assert_eq!(store.current().await.unwrap(), 1);
}

#[tokio::test]
async fn survives_a_redis_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = RedisServer::start_on(port, dir.path());
    let store = open(&server.url());
    for expected in 1..=5 {
        assert_eq!(store.next(100).await.unwrap(), expected);
    }
    server.kill(); // SIGKILL: only the fsynced AOF survives
    assert!(matches!(
        store.next(100).await,
        Err(SequenceError::Unavailable(_))
    ));
    assert!(!store.ready().await);

    let _server = RedisServer::start_on(port, dir.path());
    wait_until_ready(&store).await;
    assert_eq!(store.current().await.unwrap(), 5);
    assert_eq!(store.next(100).await.unwrap(), 6);
}

#[tokio::test]
async fn an_invalid_url_is_an_open_error() {
    assert!(matches!(
        RedisStore::open(&RedisConfig::new("not-a-url"), None),
        Err(OpenError::Redis(_))
    ));
}
