//! Trace export of the real `mathapi` binary, received by an in-process OTLP/HTTP collector
//! that decodes the protobuf payloads: parents from `traceparent`, the spans' attributes,
//! the join with the log lines, sampling, flush at shutdown, a collector that refuses
//! exports and one that never answers.

use mathapi_testing::otlp::{OtlpReceiver, ReceivedSpan, SilentCollector};
use mathapi_testing::{RunningBinary, client};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

/// Exports every 100 ms (the default is 5 s), so tests wait less.
const FAST: &[(&str, &str)] = &[("OTEL_BSP_SCHEDULE_DELAY", "100")];

/// OTLP `SpanKind` numbers.
const SERVER: i32 = 2;
const INTERNAL: i32 = 1;

/// Starts the binary with its own sequence data directory.
async fn start(args: &[&str], env: &[(&str, &str)]) -> (RunningBinary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut all = vec!["--sequence-data-dir", data.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (RunningBinary::start(BINARY, &all, env).await, data)
}

/// GET `path` with a `traceparent` made of `trace_id`, `parent_id` and `flags`; returns the
/// request id the server gave it.
async fn get_traced(server: &RunningBinary, path: &str, trace: (&str, &str, &str)) -> String {
    let (trace_id, parent_id, flags) = trace;
    let response = client()
        .get(server.url(path))
        .header("traceparent", format!("00-{trace_id}-{parent_id}-{flags}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

async fn completed_line(server: &RunningBinary, request_id: &str) -> Value {
    server
        .wait_for_log(|r| r["msg"] == "request completed" && r["request_id"] == request_id)
        .await
}

fn spans_of_trace(spans: &[ReceivedSpan], trace_id: &str) -> Vec<ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .cloned()
        .collect()
}

const TRACE_A: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_A: &str = "00f067aa0ba902b7";
const TRACE_B: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_B: &str = "b7ad6b7169203331";
const TRACE_UNSAMPLED: &str = "11111111111111111111111111111111";

#[tokio::test]
async fn the_server_span_is_a_child_of_the_callers_and_the_log_line_names_it() {
    let receiver = OtlpReceiver::start().await;
    let (server, _data) = start(&["--otel-endpoint", &receiver.endpoint()], FAST).await;

    let computed = get_traced(&server, "/fibonacci/30/", (TRACE_A, PARENT_A, "01")).await;
    // The same path again is a render-cache hit: traced too, with no computation.
    let cached = get_traced(&server, "/fibonacci/30/", (TRACE_B, PARENT_B, "01")).await;
    let spans = receiver.wait_for_spans(3).await;

    let first = spans_of_trace(&spans, TRACE_A);
    assert_eq!(first.len(), 2, "{first:#?}");
    let request = first
        .iter()
        .find(|s| s.kind == SERVER)
        .expect("server span");
    assert_eq!(request.parent_span_id, PARENT_A);
    assert_eq!(request.name, "GET /fibonacci/{n}/");
    assert_eq!(request.service_name, "mathapi");
    for (key, value) in [
        ("http.request.method", "GET"),
        ("http.route", "/fibonacci/{n}/"),
        ("url.path", "/fibonacci/30/"),
        ("http.response.status_code", "200"),
        ("mathapi.request_id", computed.as_str()),
    ] {
        assert_eq!(request.attribute(key), Some(value), "{key} in {request:#?}");
    }
    let computation = first.iter().find(|s| s.kind == INTERNAL).expect("child");
    assert_eq!(computation.name, "computation");
    assert_eq!(computation.parent_span_id, request.span_id);
    assert_eq!(computation.attribute("function"), Some("fibonacci"));
    assert_eq!(computation.attribute("arguments"), Some("n=30"));
    assert_eq!(computation.attribute("result_digits"), Some("6"));

    let line = completed_line(&server, &computed).await;
    assert_eq!(line["trace_id"], TRACE_A);
    assert_eq!(line["span_id"], request.span_id.as_str());

    let second = spans_of_trace(&spans, TRACE_B);
    assert_eq!(
        second.len(),
        1,
        "a cache hit has no computation: {second:#?}"
    );
    assert_eq!(second[0].parent_span_id, PARENT_B);
    assert_eq!(
        second[0].attribute("http.response.status_code"),
        Some("200")
    );
    let line = completed_line(&server, &cached).await;
    assert_eq!(line["cache"], "hit");
    assert_eq!(line["trace_id"], TRACE_B);
    assert_eq!(line["span_id"], second[0].span_id.as_str());
}

#[tokio::test]
async fn an_unsampled_caller_gets_no_spans_and_no_trace_ids_on_its_line() {
    let receiver = OtlpReceiver::start().await;
    let (server, _data) = start(
        &["--otel-endpoint", &receiver.endpoint()],
        &[("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), FAST[0]],
    )
    .await;
    let unsampled = get_traced(&server, "/factorial/20/", (TRACE_UNSAMPLED, PARENT_A, "00")).await;
    // Spans are exported in order: once the later request's spans are in, the earlier
    // request's would be too.
    get_traced(&server, "/factorial/21/", (TRACE_A, PARENT_A, "01")).await;
    let spans = receiver.wait_for_spans(2).await;
    assert!(
        spans_of_trace(&spans, TRACE_UNSAMPLED).is_empty(),
        "{spans:#?}"
    );
    let line = completed_line(&server, &unsampled).await;
    assert!(
        line.get("trace_id").is_none() && line.get("span_id").is_none(),
        "{line}"
    );
}

#[tokio::test]
async fn without_an_endpoint_or_when_disabled_nothing_is_traced() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = receiver.endpoint();
    let (mut disabled, _data) = start(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SDK_DISABLED", "true"),
        ],
    )
    .await;
    let (plain, _data2) = start(&[], &[]).await;
    for server in [&disabled, &plain] {
        let id = get_traced(server, "/ackermann/2/3/", (TRACE_A, PARENT_A, "01")).await;
        let line = completed_line(server, &id).await;
        assert!(line.get("trace_id").is_none(), "{line}");
        let metrics = server.metrics().await;
        assert!(
            !metrics.contains("mathapi_trace_"),
            "no trace metrics when off"
        );
    }
    // A graceful shutdown flushes whatever was queued: nothing was.
    disabled.signal("TERM");
    assert!(disabled.wait().await.success());
    assert_eq!(receiver.requests(), 0);
}

#[tokio::test]
async fn spans_still_queued_are_delivered_on_a_graceful_shutdown() {
    let receiver = OtlpReceiver::start().await;
    // A minute between scheduled exports: only the shutdown flush can deliver in time.
    let (mut server, _data) = start(
        &["--otel-endpoint", &receiver.endpoint()],
        &[("OTEL_BSP_SCHEDULE_DELAY", "60000")],
    )
    .await;
    get_traced(&server, "/fibonacci/12/", (TRACE_A, PARENT_A, "01")).await;
    server.signal("TERM");
    assert!(server.wait().await.success());
    let spans = spans_of_trace(&receiver.spans(), TRACE_A);
    assert_eq!(spans.len(), 2, "{spans:#?}");
}

/// Reads a metric's value from the Prometheus text.
fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} missing"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_collector_that_never_answers_costs_dropped_spans_not_answers() {
    const QUEUE: u32 = 16;
    let collector = SilentCollector::start().await;
    let queue = QUEUE.to_string();
    let (mut server, _data) = start(
        &[
            "--otel-endpoint",
            &collector.endpoint(),
            "--otel-queue-size",
            &queue,
            // Longer than the test: no export gives up and empties the queue before the
            // shutdown, however slowly a loaded machine runs it.
            "--otel-export-timeout-ms",
            "60000",
        ],
        &[],
    )
    .await;
    let client = client();
    for _ in 0..200 {
        let response = client
            .get(server.url("/fibonacci/10/"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let page = server.metrics().await;
    let dropped = metric(&page, "mathapi_trace_spans_dropped_total");
    let queued = metric(&page, "mathapi_trace_spans_queued");
    // 201 spans (one computation) against a queue of 16 that the hung export never drains.
    assert!(dropped >= 100.0, "{dropped} dropped");
    assert!(queued <= f64::from(QUEUE), "{queued} queued");
    // Shutdown gives up on the flush instead of waiting for the collector forever.
    server.signal("TERM");
    assert!(server.wait().await.success());
    // The process has exited; its last lines may still be on their way through the pipe.
    let line = server
        .wait_for_log(|r| r["msg"] == "trace export not flushed")
        .await;
    assert_eq!(line["level"], 40, "{line}");
}

#[tokio::test]
async fn an_export_the_collector_cannot_take_is_tried_again_then_given_up() {
    // 503: overloaded, try again later (as 429, 502 and 504 say).
    let collector = OtlpReceiver::answering(poem::http::StatusCode::SERVICE_UNAVAILABLE).await;
    let (mut server, _data) = start(&["--otel-endpoint", &collector.endpoint()], FAST).await;
    get_traced(&server, "/fibonacci/12/", (TRACE_A, PARENT_A, "01")).await;
    let server_spans = || {
        let spans = spans_of_trace(&collector.spans(), TRACE_A);
        spans
            .into_iter()
            .filter(|s| s.kind == SERVER)
            .collect::<Vec<_>>()
    };
    // The same server span arrives four times: the first attempt and three retries.
    let deadline = tokio::time::Instant::now() + mathapi_testing::TIMEOUT;
    while server_spans().len() < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not retried: {:#?}",
            server_spans()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Then it is given up: once the process has exited, no fifth attempt has come.
    server.signal("TERM");
    assert!(server.wait().await.success());
    let arrived = server_spans();
    assert_eq!(arrived.len(), 4, "{arrived:#?}");
    assert!(arrived.iter().all(|s| *s == arrived[0]), "{arrived:#?}");
}

#[tokio::test]
async fn unsupported_trace_settings_are_refused_at_start_up() {
    for bad in [
        &["--otel-traces-sampler-arg", "1.5"][..],
        &["--otel-protocol", "grpc"],
        &["--otel-traces-sampler", "xray"],
        &["--otel-endpoint", "https://collector:4318"],
    ] {
        let output = tokio::process::Command::new(BINARY)
            .args(bad)
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("error: invalid value"),
            "{bad:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn every_line_inside_a_sampled_request_carries_its_trace_and_span_ids() {
    let receiver = OtlpReceiver::start().await;
    // At `debug` the computation span writes START and END lines inside the request span.
    let (server, _data) = start(
        &[
            "--otel-endpoint",
            &receiver.endpoint(),
            "--log-level",
            "debug",
        ],
        FAST,
    )
    .await;
    let id = get_traced(&server, "/factorial/25/", (TRACE_A, PARENT_A, "01")).await;
    let spans = receiver.wait_for_spans(2).await;
    let request = spans
        .iter()
        .find(|s| s.kind == SERVER && s.trace_id == TRACE_A)
        .expect("server span");
    completed_line(&server, &id).await;
    let lines: Vec<Value> = server
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["request_id"] == id.as_str())
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|r| r["msg"].as_str()).collect();
    assert!(
        messages.contains(&"[COMPUTATION - START]") && messages.contains(&"request completed"),
        "{messages:?}"
    );
    for line in &lines {
        assert_eq!(line["trace_id"], TRACE_A, "{line}");
        assert_eq!(line["span_id"], request.span_id.as_str(), "{line}");
        let keys = line.as_object().unwrap().keys();
        assert!(!keys.into_iter().any(|k| k.starts_with("otel.")), "{line}");
    }
}

#[tokio::test]
async fn the_service_name_of_exported_spans_comes_from_the_flag_or_its_variable() {
    let receiver = OtlpReceiver::start().await;
    let endpoint = receiver.endpoint();
    let by_flag = [
        "--otel-endpoint",
        &endpoint,
        "--otel-service-name",
        "from-flag",
    ];
    let env = [FAST[0], ("OTEL_SERVICE_NAME", "from-env")];
    let by_env = ["--otel-endpoint", endpoint.as_str()];
    let ((flagged, _a), (named, _b)) = tokio::join!(start(&by_flag, FAST), start(&by_env, &env));
    get_traced(&flagged, "/fibonacci/12/", (TRACE_A, PARENT_A, "01")).await;
    get_traced(&named, "/fibonacci/12/", (TRACE_B, PARENT_B, "01")).await;
    let spans = receiver.wait_for_spans(4).await;
    for (trace, service) in [(TRACE_A, "from-flag"), (TRACE_B, "from-env")] {
        let spans = spans_of_trace(&spans, trace);
        assert!(!spans.is_empty(), "no span of {trace}");
        assert!(
            spans.iter().all(|s| s.service_name == service),
            "{spans:#?}"
        );
    }
}

#[tokio::test]
async fn an_export_that_outlasts_the_export_timeout_is_abandoned_and_tried_again() {
    let (short, by_env, long) = tokio::join!(
        SilentCollector::start(),
        SilentCollector::start(),
        SilentCollector::start()
    );
    let (short_url, env_url, long_url) = (short.endpoint(), by_env.endpoint(), long.endpoint());
    let flag = [
        "--otel-endpoint",
        &short_url,
        "--otel-export-timeout-ms",
        "100",
    ];
    let env = [FAST[0], ("OTEL_EXPORTER_OTLP_TIMEOUT", "100")];
    let env_flag = ["--otel-endpoint", env_url.as_str()];
    let control = [
        "--otel-endpoint",
        &long_url,
        "--otel-export-timeout-ms",
        "60000",
    ];
    let (servers, _dirs): (Vec<_>, Vec<_>) = [
        start(&flag, FAST).await,
        start(&env_flag, &env).await,
        start(&control, FAST).await,
    ]
    .into_iter()
    .unzip();
    let client = client();
    // Each abandoned export is followed by a new one, on a new connection: keep making spans
    // until both short-timeout servers have connected a second time.
    let deadline = tokio::time::Instant::now() + mathapi_testing::TIMEOUT;
    while short.connections() < 2 || by_env.connections() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no export was given up: {} and {} connections",
            short.connections(),
            by_env.connections()
        );
        for server in &servers {
            let response = client.get(server.url("/fibonacci/10/")).send().await;
            assert_eq!(response.unwrap().status(), 200);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The same spans under a 60 s timeout: its one export is still waiting.
    assert_eq!(long.connections(), 1, "the control's export was given up");
}
