//! The sequence's storage going away, stalling and losing its data, over real HTTP against a
//! real redis-server that is stopped, paused and restarted: the process stays ready for
//! the routes that do not need the storage, the outage shows on
//! `mathapi_sequence_store_available`, and the operator's reset works from every state.

use std::time::Duration;

use mathapi_fibonacci::FibonacciApi;
use mathapi_http::{AppContext, single_api_app};
use mathapi_sequence::testing::RedisServer;
use mathapi_sequence_api::{Backend, SequenceArgs, WithSequence};
use mathapi_telemetry::Metrics;
use mathapi_testing::TestApp;
use serde_json::{Value, json};

async fn spawn(sequence: SequenceArgs) -> TestApp {
    let metrics = Metrics::new("fibonacci").unwrap();
    let fibonacci = FibonacciApi::with_maxima([400], &metrics);
    let api = WithSequence::open(fibonacci, &sequence, &metrics).unwrap();
    TestApp::spawn(single_api_app(
        api,
        &AppContext::with_default_cache(&metrics),
    ))
    .await
}

fn redis_args(redis: &RedisServer) -> SequenceArgs {
    SequenceArgs {
        backend: Backend::Redis,
        redis_url: redis.url(),
        commit_timeout: Duration::from_millis(300),
        ..SequenceArgs::embedded("unused")
    }
}

async fn call(app: &TestApp, method: &str, operation: &str, key: Option<&str>) -> (u16, Value) {
    app.call(method, &format!("/fibonacci/{operation}"), key)
        .await
}

/// The storage's health gauge.
const STORE_AVAILABLE: &str = "mathapi_sequence_store_available";

/// What the process serves without its storage: ready, the math routes, liveness.
async fn assert_serving_without_the_storage(app: &TestApp) {
    let (status, _, body) = app.get_json("/ready").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    let (status, _, body) = app.get_json("/fibonacci/10/").await;
    assert_eq!((status, body["result"].as_str()), (200, Some("55")));
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn a_redis_outage_leaves_the_process_ready_and_shows_on_the_gauge() {
    let mut redis = RedisServer::start();
    let (port, dir) = (redis.port(), redis.dir().to_path_buf());
    let app = spawn(redis_args(&redis)).await;
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
    assert_eq!(call(&app, "POST", "next", None).await.0, 200);

    redis.kill();
    // The monitor sees the outage without any request to the stepper.
    app.wait_for_metric(STORE_AVAILABLE, 0.0).await;
    assert_serving_without_the_storage(&app).await;
    for (method, operation) in [("GET", "current"), ("POST", "next")] {
        let (status, body) = call(&app, method, operation, None).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (503, Some("storage_unavailable")),
            "{method} {operation}: {body}"
        );
    }
    assert_serving_without_the_storage(&app).await;

    // Back on its port with its data: the same process recovers without a restart.
    let _redis = RedisServer::start_on(port, &dir);
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
    assert_eq!(call(&app, "POST", "next", None).await.1["index"], 2);
}

#[tokio::test]
async fn a_stalled_redis_leaves_the_process_ready_and_shows_on_the_gauge() {
    let redis = RedisServer::start();
    let app = spawn(redis_args(&redis)).await;
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
    redis.pause();
    let (status, body) = call(&app, "POST", "next", Some("stalled")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (504, Some("outcome_unknown"))
    );
    assert_eq!(app.metric(STORE_AVAILABLE).await, Some(0.0));
    assert_serving_without_the_storage(&app).await;
    redis.resume();
    app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
}

/// How the storage loses the sequence, before the operator resets it.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// Redis restarts empty; the next call is the reset.
    Fresh,
    /// Redis restarts empty; a client steps before the reset.
    AfterWrite,
    /// Redis restarts empty; a client reads before the reset.
    AfterRead,
    /// Redis stalls under a step (504), then restarts empty; a client steps again.
    AfterStall,
}

/// Kills Redis and starts an empty one on its port: a restart without persistence.
fn restart_empty(redis: &mut RedisServer) -> (RedisServer, tempfile::TempDir) {
    let port = redis.port();
    redis.kill();
    let empty = tempfile::tempdir().unwrap();
    (RedisServer::start_on(port, empty.path()), empty)
}

/// Loses the state as `loss` says; answers the restarted server and its directory.
async fn lose_the_state(
    app: &TestApp,
    redis: &mut RedisServer,
    loss: Loss,
) -> (RedisServer, tempfile::TempDir) {
    if let Loss::AfterStall = loss {
        redis.pause();
        let (status, body) = call(app, "POST", "next", Some("stalled")).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (504, Some("outcome_unknown"))
        );
    }
    let restarted = restart_empty(redis);
    let client_call = match loss {
        Loss::Fresh => None,
        Loss::AfterWrite | Loss::AfterStall => Some(("POST", "next")),
        Loss::AfterRead => Some(("GET", "current")),
    };
    if let Some((method, operation)) = client_call {
        let (status, body) = call(app, method, operation, None).await;
        // Refused, never a silent restart from 0: not applied (503) or unknown (504, the
        // connection that the restart broke).
        assert!(matches!(status, 503 | 504), "{loss:?}: {status} {body}");
    }
    restarted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_recovers_a_lost_redis_state_from_every_state() {
    for loss in [
        Loss::Fresh,
        Loss::AfterWrite,
        Loss::AfterRead,
        Loss::AfterStall,
    ] {
        let mut redis = RedisServer::start();
        let app = spawn(redis_args(&redis)).await;
        for _ in 0..3 {
            assert_eq!(call(&app, "POST", "next", None).await.0, 200, "{loss:?}");
        }
        let _restarted = lose_the_state(&app, &mut redis, loss).await;
        assert_serving_without_the_storage(&app).await;

        // The documented recovery, at once and on the first try.
        assert_eq!(
            call(&app, "POST", "reset", None).await,
            (200, json!({"index": 0, "value": "0"})),
            "{loss:?}"
        );
        app.wait_for_metric(STORE_AVAILABLE, 1.0).await;
        assert_eq!(
            call(&app, "POST", "next", None).await,
            (200, json!({"index": 1, "value": "1"})),
            "{loss:?}"
        );
        app.stop().await;
    }
}
