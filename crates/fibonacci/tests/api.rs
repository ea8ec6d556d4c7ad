//! The Fibonacci service over real HTTP, in-process on a random port.

use mathapi_fibonacci::FibonacciApi;
use mathapi_http::{AppContext, single_api_app};
use mathapi_telemetry::Metrics;
use mathapi_testing::{RunningBinary, TestApp, assert_problem};
use num_bigint::BigUint;

async fn spawn(max_n: u64) -> TestApp {
    let metrics = Metrics::new("fibonacci").unwrap();
    let api = FibonacciApi::with_maxima([max_n], &metrics);
    TestApp::spawn(single_api_app(
        api,
        &AppContext::with_default_cache(&metrics),
    ))
    .await
}

#[tokio::test]
async fn every_default_argument_matches_plain_addition() {
    let app = spawn(400).await;
    let (mut a, mut b) = (BigUint::from(0u32), BigUint::from(1u32));
    for n in 0..=400u64 {
        let (status, content_type, body) = app.get_json(&format!("/fibonacci/{n}/")).await;
        assert_eq!(status, 200, "{body}");
        assert!(content_type.starts_with("application/json"));
        assert_eq!(body["n"], n);
        assert_eq!(body["result"].as_str().unwrap(), a.to_string(), "F({n})");
        (a, b) = (b.clone(), a + b);
    }
}

#[tokio::test]
async fn published_values_and_both_path_forms() {
    let app = spawn(400).await;
    for path in ["/fibonacci/10/", "/fibonacci/10"] {
        let (status, _, body) = app.get_json(path).await;
        assert_eq!(
            (status, body),
            (200, serde_json::json!({"n": 10, "result": "55"}))
        );
    }
    let (_, _, body) = app.get_json("/fibonacci/100/").await;
    assert_eq!(body["result"], "354224848179261915075");
}

#[tokio::test]
async fn limits_come_from_configuration() {
    let app = spawn(400).await;
    let body = assert_problem(app.get("/fibonacci/401/").await, 400, Some("out_of_range")).await;
    assert_eq!(
        body["detail"],
        "n must be an integer from 0 to 400, got 401"
    );

    let raised = spawn(5000).await;
    let (status, _, body) = raised.get_json("/fibonacci/5000/").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"].as_str().unwrap().len(),
        1045,
        "F(5000) has 1045 digits"
    );
    assert_problem(
        raised.get("/fibonacci/5001/").await,
        400,
        Some("out_of_range"),
    )
    .await;
}

#[tokio::test]
async fn the_document_states_the_configured_range() {
    let app = spawn(1234).await;
    let (status, _, doc) = app.get_json("/fibonacci/openapi.json").await;
    assert_eq!(status, 200);
    let op = &doc["paths"]["/fibonacci/{n}/"]["get"];
    let schema = &op["parameters"][0]["schema"];
    assert_eq!(op["parameters"][0]["name"], "n");
    assert_eq!(
        (
            schema["type"].as_str(),
            schema["minimum"].as_u64(),
            schema["maximum"].as_u64()
        ),
        (Some("integer"), Some(0), Some(1234))
    );
    assert!(
        op["responses"]["400"]["content"]["application/problem+json"].is_object(),
        "{op}"
    );
    let ui = app.get("/fibonacci/docs").await.text().await.unwrap();
    assert!(ui.contains("SwaggerUIBundle") && ui.contains("\"maximum\": 1234"));
}

#[tokio::test]
async fn the_binary_takes_its_limit_from_the_environment() {
    let data = tempfile::tempdir().unwrap();
    let server = RunningBinary::start(
        env!("CARGO_BIN_EXE_fibonacci"),
        &["--sequence-data-dir", data.path().to_str().unwrap()],
        &[("MATHAPI_FIBONACCI_MAX_N", "500")],
    )
    .await;
    let client = mathapi_testing::client();
    let ok = client
        .get(server.url("/fibonacci/500/"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = client
        .get(server.url("/fibonacci/501/"))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 400, Some("out_of_range")).await;
}

#[test]
fn the_binary_refuses_a_limit_above_the_hard_cap() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_fibonacci"))
        .args(["--fibonacci-max-n", "100001"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--fibonacci-max-n") && stderr.contains("0..=100000"),
        "{stderr}"
    );
}
