//! Math results are immutable: `Cache-Control`, strong `ETag`s, `304 Not Modified`, and the
//! in-process render cache with its byte budget, over real HTTP.

use std::sync::{Arc, Mutex};

use mathapi_telemetry::{LogSink, Metrics};
use serde_json::Value;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

mod support;

use support::spawn_app as spawn_with;

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The value of one sample on the metrics page, e.g. `mathapi_render_cache_bytes`; the name
/// must match exactly (an exporter suffix would make it another series).
fn sample(metrics: &Metrics, series: &str) -> f64 {
    metrics
        .render()
        .lines()
        .find(|line| {
            line.strip_prefix(series)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .and_then(|line| line.rsplit_once(' '))
        .map_or(0.0, |(_, value)| value.parse().unwrap())
}

#[tokio::test]
async fn results_are_immutable_with_a_strong_etag_and_304_when_held() {
    let (app, _) = spawn_with(&[]).await;
    let first = app.get("/factorial/20/").await;
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "cache-control").as_deref(), Some(IMMUTABLE));
    let etag = header(&first, "etag").expect("an ETag");
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["result"], "2432902008176640000");

    for held in [
        etag.clone(),
        format!("\"other\", {etag}"),
        format!("W/{etag}"),
    ] {
        let again = app
            .client
            .get(app.url("/factorial/20/"))
            .header("if-none-match", &held)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{held}");
        assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
        assert_eq!(header(&again, "cache-control").as_deref(), Some(IMMUTABLE));
        assert!(again.bytes().await.unwrap().is_empty(), "a 304 has no body");
    }
    let stale = app
        .client
        .get(app.url("/factorial/20/"))
        .header("if-none-match", "\"not-this-one\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);

    // The same representation under another spelling of the path has the same tag.
    let spelled = app.get("/factorial/020").await;
    assert_eq!(header(&spelled, "etag").as_deref(), Some(etag.as_str()));
    let other = app.get("/factorial/21/").await;
    assert_ne!(header(&other, "etag").as_deref(), Some(etag.as_str()));
}

#[tokio::test]
async fn errors_and_the_sequence_are_never_marked_cacheable() {
    let (app, _) = spawn_with(&[]).await;
    for path in [
        "/factorial/401/",
        "/fibonacci/abc/",
        "/nowhere",
        "/ackermann/4/3/",
    ] {
        let response = app.get(path).await;
        assert!(response.status().is_client_error(), "{path}");
        assert_eq!(header(&response, "etag"), None, "{path}");
        assert_ne!(
            header(&response, "cache-control").as_deref(),
            Some(IMMUTABLE)
        );
    }
    let current = app.get("/fibonacci/current").await;
    assert_eq!(current.status(), 200);
    assert_eq!(
        header(&current, "cache-control").as_deref(),
        Some("no-store")
    );
    assert_eq!(header(&current, "etag"), None);
}

#[tokio::test]
async fn repeated_requests_are_served_from_the_cache() {
    let (app, metrics) = spawn_with(&["--factorial-max-n", "10000"]).await;
    let first = app.get("/factorial/10000/").await.text().await.unwrap();
    for _ in 0..5 {
        let again = app.get("/factorial/10000").await.text().await.unwrap();
        assert_eq!(again, first, "the cached answer is the computed one");
    }
    let hits = r#"mathapi_render_cache_events_total{event="hit",function="factorial"}"#;
    let misses = r#"mathapi_render_cache_events_total{event="miss",function="factorial"}"#;
    assert_eq!(sample(&metrics, hits), 5.0);
    assert_eq!(sample(&metrics, misses), 1.0);
    let computations = "mathapi_computation_duration_seconds_count{function=\"factorial\"}";
    assert_eq!(sample(&metrics, computations), 1.0, "computed once");
    let body: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(body["result"].as_str().unwrap().len(), 35_660);
}

#[tokio::test]
async fn a_scan_of_distinct_large_arguments_stays_within_the_budget() {
    let budget: u64 = 200_000;
    let (app, metrics) = spawn_with(&[
        "--factorial-max-n",
        "10000",
        "--render-cache-bytes",
        &budget.to_string(),
    ])
    .await;
    for n in (9_000..=10_000).step_by(10) {
        assert_eq!(app.get(&format!("/factorial/{n}/")).await.status(), 200);
        let held = sample(&metrics, "mathapi_render_cache_bytes");
        assert!(held <= budget as f64, "{held} bytes held at n = {n}");
    }
    assert!(sample(&metrics, "mathapi_render_cache_bytes") > 0.0);
    let evicted = r#"mathapi_render_cache_events_total{event="evicted",function="factorial"}"#;
    assert!(
        sample(&metrics, evicted) > 0.0,
        "a scan this long must evict"
    );
}

#[tokio::test]
async fn a_zero_budget_turns_the_cache_off_but_keeps_the_headers() {
    let (app, metrics) = spawn_with(&["--render-cache-bytes", "0"]).await;
    for _ in 0..3 {
        let response = app.get("/fibonacci/30/").await;
        assert_eq!(
            header(&response, "cache-control").as_deref(),
            Some(IMMUTABLE)
        );
        assert!(header(&response, "etag").is_some());
    }
    let computations = "mathapi_computation_duration_seconds_count{function=\"fibonacci\"}";
    assert_eq!(sample(&metrics, computations), 3.0, "computed every time");
    assert!(
        !metrics
            .render()
            .contains("mathapi_render_cache_events_total{")
    );
}

/// A writer the test reads the log lines from.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_log_line_says_hit_or_miss_and_keeps_the_call_facts() {
    let captured = Captured::default();
    let sink = LogSink::new(captured.clone());
    let subscriber = mathapi_telemetry::subscriber("mathapi", "info", sink.clone()).unwrap();
    // The test's runtime is single-threaded: the server logs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    let (app, _) = spawn_with(&[]).await;
    for id in ["first", "second"] {
        let response = app
            .client
            .get(app.url("/fibonacci/90/"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    sink.flush();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = |id: &str| {
        let mine: Vec<&Value> = lines.iter().filter(|l| l["request_id"] == id).collect();
        assert_eq!(mine.len(), 1, "one line for {id}: {mine:?}");
        mine[0].clone()
    };
    let (first, second) = (line("first"), line("second"));
    assert_eq!(first["cache"], "miss");
    assert!(first["compute_ms"].is_f64());
    assert_eq!(second["cache"], "hit");
    assert!(
        second.get("compute_ms").is_none(),
        "nothing computed on a hit"
    );
    for l in [&first, &second] {
        assert_eq!(l["msg"], "request completed");
        assert_eq!(l["function"], "fibonacci");
        assert_eq!(l["arguments"], "n=90");
        assert_eq!(l["result_digits"], 19, "F(90) = 2880067194370816120");
        assert_eq!(l["http_route"], "/fibonacci/{n}/");
        assert_eq!(l["http_status"], 200);
    }
}
