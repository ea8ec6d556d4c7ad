//! The values the stepper answers: F(index) from the pair kept beside the store, exact
//! against fast doubling through steps and jumps (another replica moving the index in
//! Redis), and made under the compute limit above `CHEAP_MAX_INDEX`, never on the async
//! workers.

use std::time::Duration;

use mathapi_fibonacci::FibonacciApi;
use mathapi_http::{AppContext, ComputeLimit, ComputeSettings, Cost, single_api_app};
use mathapi_math::fibonacci;
use mathapi_sequence::DEFAULT_REDIS_KEY;
use mathapi_sequence::testing::RedisServer;
use mathapi_sequence_api::{
    Backend, CHEAP_MAX_INDEX, Operation, Sequence, SequenceArgs, SequenceResponse, WithSequence,
};
use mathapi_telemetry::Metrics;
use mathapi_testing::TestApp;
use serde_json::Value;

fn redis_args(redis: &RedisServer, max_index: u64) -> SequenceArgs {
    SequenceArgs {
        backend: Backend::Redis,
        redis_url: redis.url(),
        max_index,
        ..SequenceArgs::embedded("unused")
    }
}

async fn post(app: &TestApp, operation: &str) -> Value {
    let response = app
        .client
        .post(app.url(&format!("/fibonacci/{operation}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{operation}");
    response.json().await.unwrap()
}

fn assert_exact(body: &Value) {
    let index = body["index"].as_u64().unwrap();
    assert_eq!(
        body["value"].as_str().unwrap(),
        fibonacci(index).to_string(),
        "F({index})"
    );
}

#[tokio::test]
async fn values_are_exact_through_steps_and_jumps() {
    let redis = RedisServer::start();
    let metrics = Metrics::new("fibonacci").unwrap();
    let api = WithSequence::open(
        FibonacciApi::with_maxima([400], &metrics),
        &redis_args(&redis, 100_000),
        &metrics,
    )
    .unwrap();
    let app = TestApp::spawn(single_api_app(
        api,
        &AppContext::with_default_cache(&metrics),
    ))
    .await;
    for _ in 0..300 {
        assert_exact(&post(&app, "next").await);
    }
    for _ in 0..20 {
        assert_exact(&post(&app, "previous").await);
    }
    // Another replica (here: an operator) moves the index far, near and back.
    for stored in ["9999", "10000", "10003", "99999", "99700", "5", "600", "1"] {
        let () = redis.command(&["SET", DEFAULT_REDIS_KEY, stored]).await;
        let (status, _, current) = app.get_json("/fibonacci/current").await;
        assert_eq!(status, 200, "{current}");
        assert_exact(&current);
        assert_exact(&post(&app, "next").await);
        assert_exact(&post(&app, "previous").await);
        assert_exact(&post(&app, "previous").await);
    }
    assert_eq!(post(&app, "reset").await["value"], "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_are_made_under_the_compute_limit() {
    let redis = RedisServer::start();
    let metrics = Metrics::new("fibonacci").unwrap();
    let sequence = Sequence::open(&redis_args(&redis, 100_000), &metrics).unwrap();
    assert!(matches!(
        sequence.run(Operation::Current, None).await,
        SequenceResponse::Ok(..)
    ));
    let above = CHEAP_MAX_INDEX + 1;
    let () = redis
        .command(&["SET", DEFAULT_REDIS_KEY, &above.to_string()])
        .await;

    // One computation slot and no queue, held by a job until released.
    let limit = ComputeLimit::new(&ComputeSettings {
        concurrency: 1,
        queue: 0,
        retry_after: Duration::from_secs(1),
    });
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (started, has_started) = std::sync::mpsc::channel::<()>();
    let holder = tokio::spawn(limit.scope(mathapi_http::compute_within_limit(
        Cost::Heavy,
        move || {
            started.send(()).unwrap();
            released.recv().unwrap();
        },
    )));
    // Polls until the holder runs, holding the slot.
    let deadline = tokio::time::Instant::now() + mathapi_testing::TIMEOUT;
    while has_started.try_recv().is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot was never taken"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // A read of a large value needs the slot: shed, nothing changed.
    match limit.scope(sequence.run(Operation::Current, None)).await {
        SequenceResponse::Unavailable(problem, _) => {
            assert_eq!(
                problem.0.reason.as_deref(),
                Some("overloaded"),
                "{problem:?}"
            )
        }
        other => panic!("a large value was made without the compute limit: {other:?}"),
    }
    // A step is durable before its value is made: it is answered all the same.
    match limit.scope(sequence.run(Operation::Next, None)).await {
        SequenceResponse::Ok(position, _) => {
            assert_eq!(position.index(), above + 1);
            assert_eq!(position.value(), fibonacci(above + 1).to_string());
        }
        other => panic!("a durable step was not answered: {other:?}"),
    }
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    match limit.scope(sequence.run(Operation::Current, None)).await {
        SequenceResponse::Ok(position, _) => assert_eq!(position.index(), above + 1),
        other => panic!("{other:?}"),
    }
}
