//! The sequence never lies and never wedges, as a hostile operator and a failing machine
//! would try it (docs/reliability.md lists each case), over real HTTP against real stores
//! (files, a real redis-server, a server process).

mod support;

use std::time::Duration;

use mathapi_fibonacci::FibonacciApi;
use mathapi_http::{AppContext, single_api_app};
use mathapi_sequence::testing::{Freezer, RedisServer};
use mathapi_sequence::{DEFAULT_REDIS_KEY, STATE_FILE_NAME};
use mathapi_sequence_api::{Backend, OpenError, SequenceArgs, SyncHook, WithSequence};
use mathapi_telemetry::Metrics;
use mathapi_testing::{TestApp, assert_problem, json_of};
use serde_json::Value;

fn fibonacci(metrics: &Metrics) -> FibonacciApi {
    FibonacciApi::with_maxima([400], metrics)
}

async fn spawn_with(sequence: SequenceArgs, before_sync: Option<SyncHook>) -> (TestApp, Metrics) {
    let metrics = Metrics::new("fibonacci").unwrap();
    let service =
        WithSequence::open_with_sync_hook(fibonacci(&metrics), &sequence, &metrics, before_sync)
            .unwrap();
    (
        TestApp::spawn(single_api_app(
            service,
            &AppContext::with_default_cache(&metrics),
        ))
        .await,
        metrics,
    )
}

fn redis_args(url: String) -> SequenceArgs {
    SequenceArgs {
        backend: Backend::Redis,
        redis_url: url,
        ..SequenceArgs::embedded("unused")
    }
}

/// `method /fibonacci/{operation}` with an optional Idempotency-Key.
async fn call(app: &TestApp, method: &str, operation: &str, key: Option<&str>) -> (u16, Value) {
    app.call(method, &format!("/fibonacci/{operation}"), key)
        .await
}

async fn index(app: &TestApp) -> u64 {
    let (status, body) = call(app, "GET", "current", None).await;
    assert_eq!(status, 200, "{body}");
    body["index"].as_u64().unwrap()
}

/// The storage's health gauge.
const STORE_AVAILABLE: &str = "mathapi_sequence_store_available";

/// The storage is down, and the process is ready all the same: it still serves the routes
/// that do not need it.
async fn assert_ready_without_the_storage(app: &TestApp) {
    assert_eq!(app.metric(STORE_AVAILABLE).await, Some(0.0));
    assert_eq!(app.get("/ready").await.status(), 200);
    assert_eq!(app.get("/fibonacci/10/").await.status(), 200);
}

#[tokio::test]
async fn head_never_moves_the_sequence() {
    let data = tempfile::tempdir().unwrap();
    let (app, _) = spawn_with(SequenceArgs::embedded(data.path()), None).await;
    for _ in 0..3 {
        assert_eq!(call(&app, "POST", "next", None).await.0, 200);
    }
    for operation in ["next", "previous", "reset"] {
        let response = app
            .client
            .head(app.url(&format!("/fibonacci/{operation}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "HEAD {operation}");
        // The methods the document lists: GET steps are off by default.
        assert_eq!(
            response.headers()["allow"],
            "POST, OPTIONS",
            "HEAD {operation}"
        );
        assert_eq!(index(&app).await, 3, "HEAD {operation} moved the sequence");
    }
    // HEAD of the safe route is fine.
    let response = app.client.head(app.url("/fibonacci/current")).send().await;
    assert_eq!(response.unwrap().status(), 200);
    assert_eq!(index(&app).await, 3);
}

#[tokio::test]
async fn every_operation_appears_once_under_one_tag() {
    let data = tempfile::tempdir().unwrap();
    let (app, _) = spawn_with(SequenceArgs::embedded(data.path()), None).await;
    let (_, _, doc) = app.get_json("/fibonacci/openapi.json").await;
    let mut operation_count = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let tags = operation["tags"].as_array().unwrap();
            assert_eq!(tags.len(), 1, "{method} {path}: tags {tags:?}");
            let expected = match path.as_str() {
                "/fibonacci/{n}/" => "Fibonacci",
                "/health" | "/ready" | "/metrics" => "Operations",
                _ => "Sequence",
            };
            assert_eq!(tags[0], expected, "{method} {path}");
            operation_count += 1;
            assert_ne!(method, "head", "hidden HEAD handlers are not documented");
        }
    }
    // F(n); current; next, previous, reset by POST; health, ready, metrics. (The GET steps
    // are off by default, and then not in the document.)
    assert_eq!(operation_count, 8);
    let next = &doc["paths"]["/fibonacci/next"]["post"];
    let key = &next["parameters"][0];
    assert_eq!(
        (key["name"].as_str(), key["in"].as_str()),
        (Some("Idempotency-Key"), Some("header"))
    );
    let unknown = &next["responses"]["504"]["content"]["application/problem+json"]["example"];
    assert_eq!(unknown["reason"], "outcome_unknown", "{next}");
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tags.iter().filter(|&&t| t == "Sequence").count(),
        1,
        "{tags:?}"
    );
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retry_safe() {
    let data = tempfile::tempdir().unwrap();
    let (app, metrics) = spawn_with(SequenceArgs::embedded(data.path()), None).await;
    let first = call(&app, "POST", "next", Some("7d1c2a40-5b1e-4c8a")).await;
    assert_eq!(first.0, 200);
    assert_eq!(
        call(&app, "POST", "next", Some("7d1c2a40-5b1e-4c8a")).await,
        first
    );
    assert_eq!(index(&app).await, 1, "the retry stepped again");
    let reused = assert_problem(
        app.client
            .post(app.url("/fibonacci/reset"))
            .header("Idempotency-Key", "7d1c2a40-5b1e-4c8a")
            .send()
            .await
            .unwrap(),
        422,
        Some("idempotency_key_reused"),
    )
    .await;
    assert!(
        reused["detail"].as_str().unwrap().contains("next"),
        "{reused}"
    );
    for bad in ["x".repeat(256), "two words".into()] {
        assert_problem(
            app.client
                .post(app.url("/fibonacci/next"))
                .header("Idempotency-Key", bad)
                .send()
                .await
                .unwrap(),
            400,
            Some("invalid_idempotency_key"),
        )
        .await;
    }
    assert_eq!(index(&app).await, 1);
    assert!(
        metrics
            .render()
            .contains(r#"mathapi_sequence_steps_total{operation="reset",outcome="key_reused"} 1"#)
    );
}

#[tokio::test]
async fn a_state_file_beyond_the_maximum_is_refused_at_startup() {
    let data = tempfile::tempdir().unwrap();
    {
        let (app, _) = spawn_with(SequenceArgs::embedded(data.path()), None).await;
        for _ in 0..11 {
            call(&app, "POST", "next", None).await;
        }
        app.stop().await;
    }
    let capped = SequenceArgs {
        max_index: 10,
        ..SequenceArgs::embedded(data.path())
    };
    let metrics = Metrics::new("fibonacci").unwrap();
    match WithSequence::open(fibonacci(&metrics), &capped, &metrics) {
        Err(
            error @ OpenError::OutOfRange {
                index: 11, max: 10, ..
            },
        ) => {
            assert!(error.to_string().contains("refusing to start"), "{error}")
        }
        Err(other) => panic!("expected OutOfRange, got {other}"),
        Ok(_) => panic!("started with index 11 above the maximum 10"),
    }

    // The server process says so and exits 1, instead of serving.
    let output = support::server_command(&[
        "--port",
        "0",
        "--sequence-max-index",
        "10",
        "--sequence-data-dir",
        data.path().to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("holds index 11, outside 0..=10"),
        "{stderr}"
    );
}

/// Flips one byte of the newest record's checksum.
fn damage_newest_slot(dir: &std::path::Path) {
    let path = dir.join(STATE_FILE_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    let generation =
        |slot: usize| u64::from_le_bytes(bytes[slot * 4096 + 8..][..8].try_into().unwrap());
    let newest = if generation(1) > generation(0) { 1 } else { 0 };
    bytes[newest * 4096 + 30] ^= 0x01; // a checksum byte: the claimed index stays readable
    std::fs::write(&path, bytes).unwrap();
}

#[tokio::test]
async fn a_recovery_from_the_older_slot_is_logged_and_counted() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_owned();
    {
        let mut server = support::start_server(&["--sequence-data-dir", &dir], &[]).await;
        let client = mathapi_testing::client();
        for _ in 0..5 {
            let response = client
                .post(server.url("/fibonacci/next"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        server.signal("TERM");
        // The data directory is locked until the process has exited.
        server.wait().await;
    }
    damage_newest_slot(data.path());

    let server = support::start_server(&["--sequence-data-dir", &dir], &[]).await;
    let warning = server
        .wait_for_log(|record| {
            record["msg"]
                .as_str()
                .is_some_and(|msg| msg.contains("recovered from the older slot"))
        })
        .await;
    assert_eq!(warning["level"], 40, "{warning}");
    // Both indices: the one opened at, and the one the damaged slot claims.
    assert_eq!(warning["index"], 4, "{warning}");
    let detail = warning["detail"].as_str().unwrap();
    assert!(detail.contains("claims index 5"), "{warning}");
    let client = mathapi_testing::client();
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("mathapi_sequence_recoveries_total 1"),
        "{metrics}"
    );
    let (_, _, body) = json_of(
        client
            .get(server.url("/fibonacci/current"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(body["index"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_disk_answers_504_then_503_until_it_recovers() {
    let data = tempfile::tempdir().unwrap();
    let freezer = Freezer::default();
    let sequence = SequenceArgs {
        commit_timeout: Duration::from_millis(300),
        ..SequenceArgs::embedded(data.path())
    };
    let (app, _) = spawn_with(sequence, Some(freezer.hook())).await;
    assert_eq!(call(&app, "POST", "next", None).await.0, 200);
    freezer.set(true);
    // The commit never finishes while frozen, so an answer at all is the server-side
    // deadline at work.
    let (status, body) = call(&app, "POST", "next", Some("stalled")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (504, Some("outcome_unknown")),
        "{body}"
    );
    // While stalled: refused, not queued behind the stuck commit (which would end in a 504).
    let (status, body) = call(&app, "POST", "next", None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("storage_unavailable")),
        "{body}"
    );
    assert_ready_without_the_storage(&app).await;
    assert_eq!(app.get("/health").await.status(), 200);

    freezer.set(false);
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
    // The stalled step was applied (it was in the commit); the refused one was not. The
    // client's retry with its key learns the outcome instead of stepping again.
    let (status, body) = call(&app, "POST", "next", Some("stalled")).await;
    assert_eq!((status, body["index"].as_u64()), (200, Some(2)), "{body}");
    assert_eq!(index(&app).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_answers_504_and_a_keyed_retry_does_not_step_twice() {
    let redis = RedisServer::start();
    let sequence = SequenceArgs {
        commit_timeout: Duration::from_millis(300),
        ..redis_args(redis.url())
    };
    let (app, _) = spawn_with(sequence, None).await;
    assert_eq!(call(&app, "POST", "next", None).await.0, 200);
    redis.pause();
    let (status, body) = call(&app, "POST", "next", Some("paused")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (504, Some("outcome_unknown")),
        "{body}"
    );
    let (status, body) = call(&app, "POST", "next", Some("other")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("storage_unavailable")),
        "{body}"
    );
    assert_ready_without_the_storage(&app).await;
    redis.resume();
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
    let (status, body) = call(&app, "POST", "next", Some("paused")).await;
    assert_eq!((status, body["index"].as_u64()), (200, Some(2)), "{body}");
    assert_eq!(index(&app).await, 2, "a retried step was applied twice");
}

#[tokio::test]
async fn an_out_of_range_redis_index_is_refused_and_never_computed() {
    let redis = RedisServer::start();
    let (app, _) = spawn_with(redis_args(redis.url()), None).await;
    assert_eq!(index(&app).await, 0);
    for bad in ["99999999", "10001", "-5"] {
        let () = redis.command(&["SET", DEFAULT_REDIS_KEY, bad]).await;
        for (method, operation) in [("GET", "current"), ("POST", "next"), ("POST", "previous")] {
            let (status, body) = call(&app, method, operation, None).await;
            assert_eq!(
                (status, body["reason"].as_str()),
                (503, Some("sequence_state_invalid")),
                "{bad}: {body}"
            );
            assert!(body["detail"].as_str().unwrap().contains(bad), "{body}");
        }
        assert_ready_without_the_storage(&app).await;
        let stored: String = redis.command(&["GET", DEFAULT_REDIS_KEY]).await;
        assert_eq!(stored, bad);
    }
    assert_eq!(call(&app, "POST", "reset", None).await.0, 200);
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
    assert_eq!(call(&app, "POST", "next", None).await.1["index"], 1);
}

#[tokio::test]
async fn a_redis_that_lost_its_data_is_refused_until_an_explicit_reset() {
    let redis = RedisServer::start_with_password(Some("s3cret"));
    let (app, _) = spawn_with(redis_args(redis.url()), None).await;
    for _ in 0..3 {
        assert_eq!(call(&app, "POST", "next", None).await.0, 200);
    }
    let () = redis.command(&["FLUSHALL"]).await;
    for (method, operation) in [("GET", "current"), ("POST", "next")] {
        let (status, body) = call(&app, method, operation, None).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (503, Some("sequence_state_lost")),
            "{body}"
        );
    }
    assert_ready_without_the_storage(&app).await;
    assert_eq!(
        call(&app, "POST", "reset", None).await,
        (200, serde_json::json!({"index": 0, "value": "0"}))
    );
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
    assert_eq!(call(&app, "POST", "next", None).await.1["index"], 1);
}

/// The server process of the tests above that need one (see `support`).
#[test]
fn server_child() {
    support::serve_if_child();
}
