//! The Redis backend against a real `redis-server` (started per test on a free port).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mathapi_sequence::testing::{RedisServer, free_port};
use mathapi_sequence::{
    CommitHook, DEFAULT_REDIS_KEY, IdempotencyLimits, OpenError, Operation, RedisConfig,
    RedisStore, SequenceError, SequenceStore, Store, StoreConfig, StoreOptions,
};

fn open(url: &str) -> RedisStore {
    RedisStore::open(&RedisConfig::new(url), None).expect("open the Redis store")
}

async fn wait_until_ready(store: &impl SequenceStore) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while store.ready().await.is_err() {
        assert!(Instant::now() < deadline, "the store never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn walk_and_conflicts() {
    let server = RedisServer::start();
    let store = Store::open(&StoreConfig::Redis(RedisConfig::new(server.url())), None).unwrap();
    assert_eq!(store.backend_name(), "redis");
    assert!(store.ready().await.is_ok());
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

    // A value the store did not write is refused, not a silent reset.
    let () = redis::cmd("SET")
        .arg("test:other")
        .arg("not a number")
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(matches!(
        other.next(10).await,
        Err(SequenceError::OutOfRange { .. })
    ));
    assert!(matches!(
        other.current().await,
        Err(SequenceError::OutOfRange { .. })
    ));
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
    assert!(store.ready().await.is_err());
    for _ in 0..3 {
        let started = Instant::now();
        assert!(matches!(
            store.next(10).await,
            Err(SequenceError::Unavailable(_))
        ));
        // Only "it fails instead of hanging": no tight bound on a loaded machine.
        assert!(
            started.elapsed() < Duration::from_secs(15),
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
    // The first step finds the connection dropped: whether it was sent is not known.
    let refused = store.next(100).await;
    assert!(
        matches!(
            refused,
            Err(SequenceError::Unavailable(_) | SequenceError::OutcomeUnknown(_))
        ),
        "{refused:?}"
    );
    // Once the connection is known to be gone, steps are refused before sending.
    let refused = store.next(100).await;
    assert!(
        matches!(refused, Err(SequenceError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(store.ready().await.is_err());

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

fn open_with(url: &str, options: StoreOptions) -> RedisStore {
    RedisStore::open_with(&RedisConfig::new(url), &options).expect("open the Redis store")
}

fn capped(max_index: u64) -> StoreOptions {
    StoreOptions {
        max_index,
        ..StoreOptions::default()
    }
}

#[tokio::test]
async fn a_stored_index_outside_the_range_is_refused_not_stepped() {
    let server = RedisServer::start();
    let store = open_with(&server.url(), capped(10_000));
    assert_eq!(store.current().await.unwrap(), 0);
    for bad in ["99999999", "10001", "-5", "1.5", "abc"] {
        let () = server.command(&["SET", DEFAULT_REDIS_KEY, bad]).await;
        for result in [
            store.current().await,
            store.next(u64::MAX).await,
            store.previous().await,
        ] {
            match result {
                Err(error @ SequenceError::OutOfRange { .. }) => {
                    assert!(error.to_string().contains(bad), "{error}");
                }
                other => panic!("stored {bad}: expected OutOfRange, got {other:?}"),
            }
        }
        assert!(store.ready().await.is_err(), "ready with {bad} stored");
        let stored: String = server.command(&["GET", DEFAULT_REDIS_KEY]).await;
        assert_eq!(stored, bad, "the script changed a refused value");
    }
    // The maximum itself is fine, and stepping past it is a conflict.
    let () = server.command(&["SET", DEFAULT_REDIS_KEY, "10000"]).await;
    assert_eq!(store.current().await.unwrap(), 10_000);
    assert!(matches!(
        store.next(10_000).await,
        Err(SequenceError::AtEnd { index: 10_000 })
    ));
    // An explicit reset is the way out.
    let () = server.command(&["SET", DEFAULT_REDIS_KEY, "-5"]).await;
    assert_eq!(store.reset().await.unwrap(), 0);
    assert_eq!(store.next(10).await.unwrap(), 1);
}

#[tokio::test]
async fn lost_data_is_refused_until_an_explicit_reset() {
    let server = RedisServer::start();
    let store = open(&server.url());
    for expected in 1..=3 {
        assert_eq!(store.next(100).await.unwrap(), expected);
    }
    let () = server.command(&["FLUSHALL"]).await; // as a restart without persistence would
    assert!(matches!(
        store.current().await,
        Err(SequenceError::StateLost)
    ));
    assert!(matches!(
        store.next(100).await,
        Err(SequenceError::StateLost)
    ));
    assert!(matches!(
        store.previous().await,
        Err(SequenceError::StateLost)
    ));
    match store.ready().await {
        Err(error @ SequenceError::StateLost) => {
            assert!(error.to_string().contains("reset"), "{error}")
        }
        other => panic!("expected StateLost, got {other:?}"),
    }
    let exists: u64 = server.command(&["EXISTS", DEFAULT_REDIS_KEY]).await;
    assert_eq!(exists, 0, "nothing was written while refusing");
    // Another replica starting now finds the marker missing too once it has initialised...
    // but a process that never saw the store cannot tell loss from a first start: it
    // initialises. The running one keeps refusing until the operator resets.
    assert_eq!(store.reset().await.unwrap(), 0);
    store.ready().await.unwrap();
    assert_eq!(store.next(100).await.unwrap(), 1);
}

#[tokio::test]
async fn a_password_in_the_url_authenticates() {
    let server = RedisServer::start_with_password(Some("s3cret"));
    let store = open(&server.url());
    assert!(server.url().contains(":s3cret@"));
    store.ready().await.unwrap();
    assert_eq!(store.next(10).await.unwrap(), 1);

    let unauthenticated = open(&server.url_without_password());
    let refused = unauthenticated.next(10).await;
    assert!(
        matches!(refused, Err(SequenceError::Unavailable(_))),
        "{refused:?}"
    );
    assert!(unauthenticated.ready().await.is_err());
    let wrong = open(&format!("redis://:wrong@127.0.0.1:{}/", server.port()));
    assert!(wrong.ready().await.is_err());
    assert_eq!(
        store.current().await.unwrap(),
        1,
        "the others changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_holds_across_replicas() {
    let server = RedisServer::start();
    let replicas = [open(&server.url()), open(&server.url())];
    let (next, cap) = (Operation::Next, 1);
    assert_eq!(replicas[0].apply(next, cap, Some("k1")).await.unwrap(), 1);
    assert_eq!(
        replicas[1].apply(next, cap, Some("k1")).await.unwrap(),
        1,
        "replayed"
    );
    assert_eq!(replicas[1].current().await.unwrap(), 1);
    assert!(matches!(
        replicas[1].apply(next, cap, Some("k2")).await,
        Err(SequenceError::AtEnd { index: 1 })
    ));
    replicas[0].previous().await.unwrap();
    assert!(matches!(
        replicas[0].apply(next, cap, Some("k2")).await,
        Err(SequenceError::AtEnd { index: 1 })
    ));
    assert!(matches!(
        replicas[0]
            .apply(Operation::Previous, cap, Some("k1"))
            .await,
        Err(SequenceError::KeyReused { .. })
    ));
    assert_eq!(replicas[0].current().await.unwrap(), 0);
}

#[tokio::test]
async fn idempotency_records_in_redis_are_bounded_in_count_and_time() {
    let server = RedisServer::start();
    // A window far longer than the test: here only the count cap forgets.
    let options = StoreOptions {
        idempotency: IdempotencyLimits {
            capacity: 3,
            window: Duration::from_secs(3600),
        },
        ..StoreOptions::default()
    };
    let store = open_with(&server.url(), options);
    let (next, cap) = (Operation::Next, 1_000);
    for i in 0..20 {
        store
            .apply(next, cap, Some(&format!("k{i}")))
            .await
            .unwrap();
        let kept: u64 = server
            .command(&["HLEN", &format!("{DEFAULT_REDIS_KEY}:idempotency")])
            .await;
        assert!(kept <= 3, "{kept} records kept");
    }
    assert_eq!(
        store.apply(next, cap, Some("k19")).await.unwrap(),
        20,
        "kept"
    );
    assert_eq!(
        store.apply(next, cap, Some("k0")).await.unwrap(),
        21,
        "forgotten"
    );
    drop(store);

    // A short window: past it a key is forgotten, and its retry steps again, once.
    let window = Duration::from_millis(100);
    let options = StoreOptions {
        idempotency: IdempotencyLimits {
            capacity: 100,
            window,
        },
        ..StoreOptions::default()
    };
    let store = open_with(&server.url(), options);
    assert_eq!(store.apply(next, cap, Some("late")).await.unwrap(), 22);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        // Each try starts a full window after the last, so a replay cannot keep it alive.
        tokio::time::sleep(window * 2).await;
        match store.apply(next, cap, Some("late")).await.unwrap() {
            22 => assert!(
                tokio::time::Instant::now() < deadline,
                "the key was never forgotten"
            ),
            stepped => {
                assert_eq!(stepped, 23, "expired");
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_gives_an_unknown_outcome_that_a_keyed_retry_resolves() {
    let server = RedisServer::start();
    let config = RedisConfig {
        response_timeout: Duration::from_millis(300),
        ..RedisConfig::new(server.url())
    };
    let store = RedisStore::open_with(&config, &StoreOptions::default()).unwrap();
    assert_eq!(store.next(100).await.unwrap(), 1);
    server.pause();
    let (next, cap) = (Operation::Next, 100);
    let started = Instant::now();
    assert!(matches!(
        store.apply(next, cap, Some("retry-me")).await,
        Err(SequenceError::OutcomeUnknown(_))
    ));
    // The 300 ms response timeout gave up, instead of waiting for Redis to come back: a
    // bound against a hang, not a measurement.
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(store.ready().await.is_err(), "ready while Redis is paused");
    server.resume();
    wait_until_ready(&store).await;
    // The step was applied after all (Redis read it on resuming): the retry with the same
    // key says so, instead of stepping a second time.
    assert_eq!(store.apply(next, cap, Some("retry-me")).await.unwrap(), 2);
    assert_eq!(store.current().await.unwrap(), 2);
}

#[tokio::test]
async fn a_redis_restarted_without_its_data_is_state_lost() {
    let port = free_port();
    let first_dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start_on(port, first_dir.path());
    let store = open(&server.url());
    for expected in 1..=4 {
        assert_eq!(store.next(100).await.unwrap(), expected);
    }
    server.kill();
    // The same address, an empty data directory: what a restart without persistence gives.
    let empty_dir = tempfile::tempdir().unwrap();
    let _server = RedisServer::start_on(port, empty_dir.path());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store.current().await {
            Err(SequenceError::StateLost) => break,
            Err(SequenceError::Unavailable(_) | SequenceError::OutcomeUnknown(_)) => {}
            other => panic!("expected StateLost, got {other:?}"),
        }
        assert!(Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        store.next(100).await,
        Err(SequenceError::StateLost)
    ));
    assert_eq!(store.reset().await.unwrap(), 0);
    assert_eq!(store.next(100).await.unwrap(), 1);
}
