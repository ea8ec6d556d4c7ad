//! The sequence over real HTTP, next to `GET /fibonacci/{n}/` as the services serve it: the
//! walk, the 409s, concurrency, both backends, Redis outages, and a `kill -9` of a server
//! process.

mod support;

use std::collections::BTreeSet;

use mathapi_fibonacci::FibonacciApi;
use mathapi_http::{AppContext, single_api_app};
use mathapi_sequence::testing::{RedisServer, free_port};
use mathapi_sequence_api::{Backend, SequenceArgs, WithSequence};
use mathapi_telemetry::Metrics;
use mathapi_testing::{TestApp, assert_problem, json_of};
use serde_json::Value;

async fn spawn(sequence: SequenceArgs) -> (TestApp, Metrics) {
    let metrics = Metrics::new("fibonacci").unwrap();
    let fibonacci = FibonacciApi::with_maxima([400], &metrics);
    let api = WithSequence::open(fibonacci, &sequence, &metrics).unwrap();
    (
        TestApp::spawn(single_api_app(
            api,
            &AppContext::with_default_cache(&metrics),
        ))
        .await,
        metrics,
    )
}

async fn embedded(max_index: u64) -> (TestApp, Metrics) {
    let data = tempfile::tempdir().unwrap();
    let args = SequenceArgs {
        max_index,
        ..SequenceArgs::embedded(data.path())
    };
    let (app, metrics) = spawn(args).await;
    (app.holding(data), metrics)
}

fn redis_args(url: String, max_index: u64) -> SequenceArgs {
    SequenceArgs {
        backend: Backend::Redis,
        redis_url: url,
        max_index,
        ..SequenceArgs::embedded("unused")
    }
}

async fn step(app: &TestApp, method: &str, operation: &str) -> (u16, Value) {
    let response = app
        .client
        .request(
            method.parse().unwrap(),
            app.url(&format!("/fibonacci/{operation}")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "{method} {operation}"
    );
    let (status, _, body) = json_of(response).await;
    (status, body)
}

fn position(index: u64, value: &str) -> Value {
    serde_json::json!({"index": index, "value": value})
}

/// Walks forward and back, checking the values against plain addition and the edges.
async fn walk(app: &TestApp, max_index: u64) {
    assert_eq!(step(app, "POST", "reset").await, (200, position(0, "0")));
    assert_eq!(step(app, "GET", "current").await, (200, position(0, "0")));
    let body = assert_problem(
        app.client
            .post(app.url("/fibonacci/previous"))
            .send()
            .await
            .unwrap(),
        409,
        Some("sequence_at_start"),
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("index 0"),
        "{body}"
    );
    assert_eq!(
        step(app, "GET", "current").await,
        (200, position(0, "0")),
        "a 409 changes nothing"
    );

    let (mut a, mut b) = (0u128, 1u128);
    for index in 1..=max_index {
        (a, b) = (b, a + b);
        assert_eq!(
            step(app, "POST", "next").await,
            (200, position(index, &a.to_string()))
        );
    }
    let (status, body) = step(app, "POST", "next").await;
    assert_eq!(status, 409, "next at the maximum: {body}");
    assert_eq!(body["reason"], "sequence_at_end");
    assert_eq!(step(app, "GET", "current").await.1["index"], max_index);
    let (status, body) = step(app, "POST", "previous").await;
    assert_eq!((status, body["index"].as_u64()), (200, Some(max_index - 1)));
    assert_eq!(step(app, "POST", "reset").await, (200, position(0, "0")));
}

/// Many concurrent `next`s from index 0 get distinct, consecutive indices.
async fn concurrent_nexts(app: &TestApp, count: u64) {
    assert_eq!(step(app, "POST", "reset").await.0, 200);
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let request = app.client.post(app.url("/fibonacci/next"));
            tokio::spawn(async move { json_of(request.send().await.unwrap()).await })
        })
        .collect();
    let mut indices = BTreeSet::new();
    for task in tasks {
        let (status, _, body) = task.await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(
            indices.insert(body["index"].as_u64().unwrap()),
            "duplicate index in {body}"
        );
    }
    assert_eq!(indices, (1..=count).collect::<BTreeSet<_>>());
    assert_eq!(step(app, "GET", "current").await.1["index"], count);
}

#[tokio::test]
async fn embedded_walk_and_edges() {
    let (app, metrics) = embedded(120).await;
    walk(&app, 120).await;
    let text = metrics.render();
    assert!(
        text.contains(r#"mathapi_sequence_steps_total{operation="next",outcome="ok"} 120"#),
        "{text}"
    );
    assert!(
        text.contains(r#"mathapi_sequence_steps_total{operation="previous",outcome="conflict"} 1"#)
    );
    assert!(text.contains(r#"mathapi_sequence_commit_duration_seconds_count{backend="embedded"}"#));
    assert!(text.contains("mathapi_sequence_index 0"));
}

#[tokio::test]
async fn embedded_concurrent_steps_are_linearizable() {
    let (app, _) = embedded(10_000).await;
    concurrent_nexts(&app, 300).await;
}

#[tokio::test]
async fn embedded_state_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    {
        let (app, _) = spawn(SequenceArgs::embedded(data.path())).await;
        for _ in 0..7 {
            step(&app, "POST", "next").await;
        }
        app.stop().await;
    }
    let (app, _) = spawn(SequenceArgs::embedded(data.path())).await;
    assert_eq!(step(&app, "GET", "current").await, (200, position(7, "13")));
}

#[tokio::test]
async fn redis_walk_and_concurrency() {
    let redis = RedisServer::start();
    let (app, metrics) = spawn(redis_args(redis.url(), 120)).await;
    walk(&app, 120).await;
    concurrent_nexts(&app, 100).await;
    assert!(
        metrics
            .render()
            .contains(r#"mathapi_sequence_commit_duration_seconds_count{backend="redis"}"#)
    );
}

#[tokio::test]
async fn two_replicas_share_one_redis_sequence() {
    let redis = RedisServer::start();
    let (first, _) = spawn(redis_args(redis.url(), 1000)).await;
    let (second, _) = spawn(redis_args(redis.url(), 1000)).await;
    step(&first, "POST", "reset").await;
    for i in 1..=10u64 {
        let replica = if i % 2 == 0 { &first } else { &second };
        assert_eq!(step(replica, "POST", "next").await.1["index"], i);
    }
    assert_eq!(step(&first, "GET", "current").await.1["index"], 10);
}

#[tokio::test]
async fn an_unreachable_redis_makes_the_sequence_503_and_the_rest_serves() {
    let port = free_port();
    let (app, metrics) = spawn(redis_args(format!("redis://127.0.0.1:{port}"), 100)).await;
    for operation in ["current", "next"] {
        let response = app.client.post(app.url(&format!("/fibonacci/{operation}")));
        let response = if operation == "current" {
            app.client.get(app.url("/fibonacci/current"))
        } else {
            response
        };
        assert_problem(
            response.send().await.unwrap(),
            503,
            Some("storage_unavailable"),
        )
        .await;
    }
    // The process stays ready: the stateless routes keep working.
    assert_eq!(app.get("/ready").await.status(), 200);
    let (status, _, body) = app.get_json("/fibonacci/10/").await;
    assert_eq!((status, body["result"].as_str()), (200, Some("55")));
    assert_eq!(app.get("/health").await.status(), 200);
    assert!(
        metrics
            .render()
            .contains(r#"mathapi_sequence_steps_total{operation="next",outcome="unavailable"} 1"#)
    );

    // Once Redis is there, the same process recovers without a restart.
    let dir = tempfile::tempdir().unwrap();
    let _redis = RedisServer::start_on(port, dir.path());
    let deadline = tokio::time::Instant::now() + mathapi_testing::TIMEOUT;
    while app.get("/fibonacci/current").await.status() != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never answered again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(step(&app, "POST", "next").await.0, 200);
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_step() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap().to_owned();
    let mut server = support::start_server(
        &["--sequence-data-dir", &dir],
        &[("RUST_LOG", "warn,mathapi_server::process=info")],
    )
    .await;
    let client = mathapi_testing::client();

    // 16 clients step as fast as they can; each remembers the indices it was given.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (client, url, stop, count) = (
                client.clone(),
                server.url("/fibonacci/next"),
                stop.clone(),
                count.clone(),
            );
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match client.post(&url).send().await {
                        Ok(response) if response.status() == 200 => {
                            let body: Value = response.json().await.unwrap();
                            acknowledged.push(body["index"].as_u64().unwrap());
                            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    // Kill mid-stream once enough steps were acknowledged, however long that takes.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while count.load(std::sync::atomic::Ordering::Relaxed) < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} steps acknowledged",
            count.load(std::sync::atomic::Ordering::Relaxed)
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.signal("KILL");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for task in clients {
        acknowledged.extend(task.await.unwrap());
    }
    let highest = *acknowledged
        .iter()
        .max()
        .expect("some steps were acknowledged");
    assert!(
        acknowledged.len() >= 100,
        "the test must step for real: {}",
        acknowledged.len()
    );
    // The data directory is locked until the killed process has exited.
    server.wait().await;
    drop(server);

    let restarted = support::start_server(&["--sequence-data-dir", &dir], &[]).await;
    let (_, _, body) = json_of(
        client
            .get(restarted.url("/fibonacci/current"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let recovered = body["index"].as_u64().unwrap();
    // Never earlier than the last acknowledged step; at most the 16 in-flight steps later.
    assert!(
        recovered >= highest,
        "recovered {recovered} < acknowledged {highest}"
    );
    assert!(
        recovered <= highest + 16,
        "recovered {recovered} > acknowledged {highest} + in flight"
    );
}

#[tokio::test]
async fn the_document_describes_the_sequence_with_examples() {
    let (app, _) = embedded(77).await;
    let (_, _, doc) = app.get_json("/fibonacci/openapi.json").await;
    let next = &doc["paths"]["/fibonacci/next"];
    // GET steps are off by default, and then not published (tests/requests.rs).
    assert!(
        next["post"].is_object() && next.get("get").is_none(),
        "{next}"
    );
    let conflict = &next["post"]["responses"]["409"]["content"]["application/problem+json"];
    assert_eq!(conflict["example"]["status"], 409, "{conflict}");
    assert!(
        conflict["example"]["detail"]
            .as_str()
            .unwrap()
            .contains("index 77")
    );
    let previous = &doc["paths"]["/fibonacci/previous"]["post"]["responses"]["409"];
    assert_eq!(
        previous["content"]["application/problem+json"]["example"]["reason"],
        "sequence_at_start"
    );
    let unavailable = &doc["paths"]["/fibonacci/current"]["get"]["responses"]["503"];
    assert_eq!(
        unavailable["content"]["application/problem+json"]["example"]["status"],
        503
    );
    let ok = &next["post"]["responses"]["200"];
    assert!(
        ok["headers"]["CACHE-CONTROL"].is_object() || ok["headers"]["Cache-Control"].is_object(),
        "{ok}"
    );
}

/// The server process of `kill_9_loses_no_acknowledged_step` (see `support`).
#[test]
fn server_child() {
    support::serve_if_child();
}
