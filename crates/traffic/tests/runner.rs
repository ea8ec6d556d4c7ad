//! The generator as a library against a real HTTP server on 127.0.0.1.

mod support;

use std::collections::BTreeMap;
use std::future::pending;
use std::time::{Duration, Instant};

use mathapi_functions::{All, Limits, entries};
use mathapi_traffic::plan::{Class, Mix};
use mathapi_traffic::runner::{Config, run};
use mathapi_traffic::summary::TransportErrorKind;
use support::{Behaviour, start};

fn config(url: &str) -> Config {
    Config {
        url: url.parse().unwrap(),
        rate: None,
        duration: None,
        max_requests: Some(600),
        concurrency: 8,
        timeout: Duration::from_secs(5),
        error_share: 0.3,
        functions: entries().iter().collect(),
        limits: Limits::<All>::default(),
        seed: 7,
        progress: false,
    }
}

/// Status codes the plan expects for the first `n` requests of seed `seed`.
fn planned_statuses(seed: u64, share: f64, n: usize) -> BTreeMap<u16, u64> {
    let mut expected = BTreeMap::new();
    for request in Mix::new(seed, entries(), &Limits::<All>::default(), share).take(n) {
        *expected.entry(request.expected_status()).or_default() += 1;
    }
    expected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_arrives_and_gets_the_planned_status() {
    let server = start(Behaviour::Faithful, "/api", Duration::ZERO).await;
    // Trailing slash on the base URL: paths must still join with exactly one slash.
    let summary = run(config(&server.url("/api/")), pending()).await.unwrap();

    assert_eq!(
        (summary.sent, summary.responses, summary.transport_errors),
        (600, 600, 0)
    );
    assert_eq!(server.tally.total(), 600);
    assert_eq!(summary.status_codes, server.tally.statuses());
    let planned = planned_statuses(7, 0.3, 600);
    assert_eq!(summary.status_codes, planned);
    assert_eq!(
        planned.keys().copied().collect::<Vec<_>>(),
        [200, 400, 404, 405]
    );
    assert_eq!(summary.mismatched, 0, "{summary}");
    assert!(summary.all_as_expected() && !summary.interrupted);

    // Every class was sent and every one got its status; per-function counts add up.
    assert_eq!(summary.classes.len(), 1 + Class::INVALID.len());
    for (class, s) in &summary.classes {
        assert!(s.requests > 0 && s.matched == s.requests, "{class}: {s:?}");
    }
    let invalid: u64 = summary.functions.values().map(|f| f.invalid).sum();
    let valid: u64 = summary.functions.values().map(|f| f.valid).sum();
    assert_eq!(valid + invalid, 600);
    assert_eq!(valid, summary.classes[&Class::Valid].requests);
    assert_eq!(summary.functions.len(), entries().len());
    let latency = summary.latency_ms.unwrap();
    assert!(0.0 < latency.p50 && latency.p50 <= latency.p99 && latency.p99 <= latency.max);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_is_caught_as_mismatches() {
    let server = start(Behaviour::AlwaysOk, "", Duration::ZERO).await;
    let summary = run(config(&server.url("")), pending()).await.unwrap();

    let invalid = 600 - planned_statuses(7, 0.3, 600)[&200];
    assert_eq!(summary.status_codes, BTreeMap::from([(200, 600)]));
    assert_eq!(summary.mismatched, invalid);
    assert_eq!(summary.mismatch_examples.len(), 10);
    for (class, s) in &summary.classes {
        let matched = if *class == Class::Valid {
            s.requests
        } else {
            0
        };
        assert_eq!(s.matched, matched, "{class}");
    }
    assert!(!summary.all_as_expected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paces_requests_at_the_target_rate() {
    let server = start(Behaviour::Faithful, "", Duration::ZERO).await;
    let config = Config {
        rate: Some(200.0),
        max_requests: Some(100),
        ..config(&server.url(""))
    };
    let summary = run(config, pending()).await.unwrap();

    assert_eq!(summary.sent, 100);
    assert_eq!(server.tally.total(), 100);
    // The first request goes at once, the 100th 99 periods (495 ms) later: never sooner.
    // The upper bound only guards against a hang.
    assert!(
        (0.49..30.0).contains(&summary.elapsed_seconds),
        "{} s",
        summary.elapsed_seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_at_the_duration() {
    let server = start(Behaviour::Faithful, "", Duration::ZERO).await;
    let config = Config {
        rate: Some(100.0),
        duration: Some(Duration::from_millis(600)),
        max_requests: None,
        ..config(&server.url(""))
    };
    let summary = run(config, pending()).await.unwrap();

    // Due at 0, 10, ..., 590 ms: at most 60 requests (61 if the one at 600 ms wins the
    // race); a busy machine may send fewer, never more.
    assert!((1..=61).contains(&summary.sent), "{} sent", summary.sent);
    assert_eq!(server.tally.total(), summary.sent);
    // Not before the duration; the upper bound only guards against a hang.
    assert!(
        (0.6..30.0).contains(&summary.elapsed_seconds),
        "{} s",
        summary.elapsed_seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_exceeds_the_concurrency() {
    let server = start(Behaviour::Faithful, "", Duration::from_millis(30)).await;
    let config = Config {
        concurrency: 3,
        max_requests: Some(30),
        ..config(&server.url(""))
    };
    let summary = run(config, pending()).await.unwrap();

    assert_eq!((summary.sent, summary.responses), (30, 30));
    assert_eq!(
        server
            .tally
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert!(summary.slot_waits > 0);
    // Ten rounds of three requests held 30 ms each.
    assert!(
        summary.elapsed_seconds >= 0.3,
        "{} s",
        summary.elapsed_seconds
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_early_and_still_summarizes() {
    let server = start(Behaviour::Faithful, "", Duration::ZERO).await;
    let config = Config {
        rate: Some(50.0),
        duration: Some(Duration::from_secs(300)),
        max_requests: None,
        ..config(&server.url(""))
    };
    // Shut down once ten requests have arrived, however long that takes.
    let tally = std::sync::Arc::clone(&server.tally);
    let shutdown = async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while tally.total() < 10 {
            assert!(Instant::now() < deadline, "ten requests never arrived");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let started = Instant::now();
    let summary = run(config, shutdown).await.unwrap();

    // Far before the 300 s duration.
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(summary.interrupted);
    // At 50/s the full duration would be 15 000 requests.
    assert!((10..=1000).contains(&summary.sent), "{} sent", summary.sent);
    assert_eq!(summary.responses, summary.sent);
    assert_eq!(server.tally.total(), summary.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_are_transport_errors() {
    let server = start(Behaviour::Faithful, "", Duration::from_secs(120)).await;
    let config = Config {
        timeout: Duration::from_millis(200),
        max_requests: Some(4),
        ..config(&server.url(""))
    };
    let summary = run(config, pending()).await.unwrap();

    assert_eq!((summary.sent, summary.responses), (4, 0));
    assert_eq!(
        summary.transport_error_kinds,
        BTreeMap::from([(TransportErrorKind::Timeout, 4)])
    );
    assert!(summary.unreachable());
    // Far before the server's 120 s answer: the client gave up.
    assert!(
        summary.elapsed_seconds < 60.0,
        "{} s",
        summary.elapsed_seconds
    );
}
