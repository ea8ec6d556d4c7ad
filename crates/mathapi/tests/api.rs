//! The all-in-one server over real HTTP, in-process on a random port: every route, every
//! error class, the documents, and the metrics.

use mathapi_telemetry::Metrics;
use mathapi_testing::{TestApp, assert_problem};
use serde_json::{Value, json};

mod support;

use support::spawn_app as spawn_with;

async fn spawn() -> (TestApp, Metrics) {
    spawn_with(&[]).await
}

#[tokio::test]
async fn each_function_answers_on_the_shared_port() {
    let (app, _) = spawn().await;
    for (path, expected) in [
        ("/fibonacci/10/", json!({"n": 10, "result": "55"})),
        ("/fibonacci/0", json!({"n": 0, "result": "0"})),
        ("/factorial/0/", json!({"n": 0, "result": "1"})),
        (
            "/factorial/20",
            json!({"n": 20, "result": "2432902008176640000"}),
        ),
        ("/ackermann/2/3/", json!({"m": 2, "n": 3, "result": "9"})),
        ("/ackermann/3/4", json!({"m": 3, "n": 4, "result": "125"})),
        ("/health", json!({"status": "ok"})),
        ("/ready", json!({"status": "ready"})),
    ] {
        let (status, content_type, body) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(
            content_type.starts_with("application/json"),
            "{path}: {content_type}"
        );
        assert_eq!(body, expected, "{path}");
    }
}

#[tokio::test]
async fn every_class_of_bad_input_is_a_400_problem_naming_the_argument() {
    let (app, _) = spawn().await;
    let cases = [
        (
            "/fibonacci/abc/",
            "not_an_integer",
            "n must be an integer from 0 to 400",
        ),
        (
            "/fibonacci/1.5/",
            "not_an_integer",
            "n must be an integer from 0 to 400",
        ),
        ("/fibonacci/-3/", "negative", "negative number -3"),
        ("/fibonacci/401/", "out_of_range", "got 401"),
        (
            "/fibonacci/99999999999999999999999/",
            "too_large_to_parse",
            "too large to parse",
        ),
        ("/fibonacci/", "missing_argument", "argument n is missing"),
        (
            "/factorial/x/",
            "not_an_integer",
            "n must be an integer from 0 to 400",
        ),
        ("/factorial/-1", "negative", "n must be an integer"),
        ("/factorial/1000/", "out_of_range", "got 1000"),
        (
            "/factorial/18446744073709551616/",
            "too_large_to_parse",
            "too large to parse",
        ),
        ("/factorial", "missing_argument", "argument n is missing"),
        (
            "/ackermann/a/1/",
            "not_an_integer",
            "m must be an integer from 0 to 3",
        ),
        (
            "/ackermann/1/b/",
            "not_an_integer",
            "n must be an integer from 0 to 4",
        ),
        ("/ackermann/-1/1/", "negative", "m must be"),
        ("/ackermann/1/-1/", "negative", "n must be"),
        (
            "/ackermann/4/4/",
            "out_of_range",
            "m must be an integer from 0 to 3, got 4",
        ),
        (
            "/ackermann/3/5/",
            "out_of_range",
            "n must be an integer from 0 to 4, got 5",
        ),
        (
            "/ackermann/99999999999999999999999/1/",
            "too_large_to_parse",
            "m must be",
        ),
        ("/ackermann/3/", "missing_argument", "argument n is missing"),
        ("/ackermann/", "missing_argument", "argument m is missing"),
    ];
    for (path, reason, detail) in cases {
        let body = assert_problem(app.get(path).await, 400, Some(reason)).await;
        let got = body["detail"].as_str().unwrap();
        assert!(got.contains(detail), "{path}: {got:?} lacks {detail:?}");
        // The detail names the real parameter, never poem-openapi's internal `param0`.
        assert!(!got.contains("param"), "{path}: {got}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_are_problems_too() {
    let (app, _) = spawn().await;
    for path in [
        "/assets/missing.js",
        "/fibonacci/1/2/",
        "/fib/3",
        "/ackermann/1/2/3/",
    ] {
        assert_problem(app.get(path).await, 404, None).await;
    }
    for (method, path) in [
        ("POST", "/fibonacci/10/"),
        ("DELETE", "/factorial/3"),
        ("PUT", "/ackermann/1/1/"),
    ] {
        let response = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .send()
            .await
            .unwrap();
        let allow = response.headers()["allow"].to_str().unwrap().to_owned();
        assert_eq!(allow, "GET, HEAD, OPTIONS", "{method} {path}");
        let body = assert_problem(response, 405, None).await;
        assert_eq!(
            body["detail"],
            format!("{method} is not allowed on {path} (it takes {allow})")
        );
    }
    // A refused method is still a request for the route its path matches.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains(r#"http_server_request_duration_seconds_count{http_request_method="_OTHER",http_response_status_code="405",http_route="/ackermann/{m}/{n}/"} 1"#),
        "{metrics}"
    );
}

fn parameter_bounds(doc: &Value, path: &str) -> Vec<(String, u64, u64)> {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{path} is not in the document"))
        .iter()
        .filter(|p| p["in"] == "path")
        .map(|p| {
            assert_eq!(p["schema"]["type"], "integer", "{path}: {p}");
            (
                p["name"].as_str().unwrap().to_owned(),
                p["schema"]["minimum"].as_u64().unwrap(),
                p["schema"]["maximum"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_combined_document_lists_every_route_with_its_bounds() {
    let (app, _) = spawn_with(&["--fibonacci-max-n", "1000", "--ackermann-max-n", "9"]).await;
    let (status, _, doc) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/ackermann/{m}/{n}/",
            "/factorial/{n}/",
            "/fibonacci/current",
            "/fibonacci/next",
            "/fibonacci/previous",
            "/fibonacci/reset",
            "/fibonacci/{n}/",
            "/health",
            "/metrics",
            "/ready"
        ]
    );
    assert_eq!(
        parameter_bounds(&doc, "/fibonacci/{n}/"),
        [("n".into(), 0, 1000)]
    );
    assert_eq!(
        parameter_bounds(&doc, "/factorial/{n}/"),
        [("n".into(), 0, 400)]
    );
    assert_eq!(
        parameter_bounds(&doc, "/ackermann/{m}/{n}/"),
        [("m".into(), 0, 3), ("n".into(), 0, 9)]
    );
    for path in ["/fibonacci/{n}/", "/factorial/{n}/", "/ackermann/{m}/{n}/"] {
        let responses = &doc["paths"][path]["get"]["responses"];
        assert!(
            responses["200"]["content"]["application/json; charset=utf-8"]["schema"].is_object(),
            "{path}"
        );
        assert!(
            responses["400"]["content"]["application/problem+json"]["schema"].is_object(),
            "{path}"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"]["example"].is_object());

    // Each API's own document, where a path-prefix proxy sends its traffic.
    for (prefix, path) in [
        ("fibonacci", "/fibonacci/{n}/"),
        ("factorial", "/factorial/{n}/"),
        ("ackermann", "/ackermann/{m}/{n}/"),
    ] {
        let (status, _, own) = app.get_json(&format!("/{prefix}/openapi.json")).await;
        assert_eq!(status, 200);
        assert_eq!(parameter_bounds(&own, path), parameter_bounds(&doc, path));
        let ui = app.get(&format!("/{prefix}/docs")).await;
        assert_eq!(ui.status(), 200);
        assert!(ui.text().await.unwrap().contains("SwaggerUIBundle"));
    }
    let ui = app.get("/docs").await.text().await.unwrap();
    assert!(ui.contains("SwaggerUIBundle") && ui.contains("/ackermann/{m}/{n}/"));
}

#[tokio::test]
async fn metrics_describe_the_traffic() {
    let (app, _) = spawn().await;
    for path in [
        "/fibonacci/10/",
        "/fibonacci/11",
        "/factorial/5/",
        "/ackermann/3/4/",
        "/fibonacci/abc/",
        "/ackermann/9/9/",
        "/nowhere",
    ] {
        app.get(path).await;
    }
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let has = |needle: &str| assert!(text.contains(needle), "missing {needle} in\n{text}");
    has(
        r#"http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",http_route="/fibonacci/{n}/"} 2"#,
    );
    has(
        r#"http_server_request_duration_seconds_bucket{http_request_method="GET",http_response_status_code="200",http_route="/fibonacci/{n}/",le="+Inf"} 2"#,
    );
    has(
        r#"http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="400",http_route="/ackermann/{m}/{n}/"} 1"#,
    );
    has(
        r#"http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="404"} 1"#,
    );
    has(r#"mathapi_computation_duration_seconds_count{function="fibonacci"} 2"#);
    has(r#"mathapi_computation_duration_seconds_bucket{function="factorial",le="0.000001"}"#);
    has(r#"mathapi_rejected_inputs_total{function="fibonacci",reason="not_an_integer"} 1"#);
    has(r#"mathapi_rejected_inputs_total{function="ackermann",reason="out_of_range"} 1"#);
    has(r#"http_server_active_requests{http_request_method="GET"} 1"#); // this very request
    has(r#"mathapi_build_info{service="mathapi",version=""#);
    has(r#"target_info{service_name="mathapi""#);
    has("process_resident_memory_bytes ");
    assert!(
        !text.contains("otel_scope"),
        "scope labels are switched off"
    );
    assert!(
        !text.contains("/fibonacci/10/") && !text.contains("/nowhere"),
        "raw paths never become labels"
    );
}

#[tokio::test]
async fn metrics_pass_promtool() {
    let (app, _) = spawn().await;
    for path in [
        "/fibonacci/10/",
        "/factorial/x/",
        "/ackermann/1/1/",
        "/nowhere",
    ] {
        app.get(path).await;
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is not on PATH: install Prometheus (apt-get install prometheus), as .ci/run does");
    use std::io::Write;
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "promtool check metrics failed:\n{report}"
    );
    assert!(report.trim().is_empty(), "promtool has remarks:\n{report}");
}
