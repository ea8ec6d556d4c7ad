//! The factorial service over real HTTP, in-process on a random port.

use mathapi_factorial::FactorialApi;
use mathapi_http::{AppContext, single_api_app};
use mathapi_telemetry::Metrics;
use mathapi_testing::{RunningBinary, TestApp, assert_problem};
use num_bigint::BigUint;

async fn spawn(max_n: u64) -> TestApp {
    let metrics = Metrics::new("factorial").unwrap();
    let api = FactorialApi::with_maxima([max_n], &metrics);
    TestApp::spawn(single_api_app(
        api,
        &AppContext::with_default_cache(&metrics),
    ))
    .await
}

#[tokio::test]
async fn every_default_argument_matches_the_recurrence() {
    let app = spawn(400).await;
    let mut expected = BigUint::from(1u32);
    for n in 0..=400u64 {
        if n > 0 {
            expected *= n;
        }
        let (status, _, body) = app.get_json(&format!("/factorial/{n}/")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["n"], n);
        assert_eq!(
            body["result"].as_str().unwrap(),
            expected.to_string(),
            "{n}!"
        );
    }
}

#[tokio::test]
async fn published_values() {
    let app = spawn(400).await;
    let (_, _, body) = app.get_json("/factorial/5").await;
    assert_eq!(body, serde_json::json!({"n": 5, "result": "120"}));
    let (_, _, body) = app.get_json("/factorial/50/").await;
    assert_eq!(
        body["result"],
        "30414093201713378043612608166064768844377641568960512000000000000"
    );
}

#[tokio::test]
async fn limits_come_from_configuration() {
    let app = spawn(400).await;
    let body = assert_problem(app.get("/factorial/401/").await, 400, Some("out_of_range")).await;
    assert_eq!(
        body["detail"],
        "n must be an integer from 0 to 400, got 401"
    );
    let raised = spawn(10_000).await;
    let (status, _, body) = raised.get_json("/factorial/10000/").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["result"].as_str().unwrap().len(),
        35_660,
        "10000! has 35660 digits"
    );
    let (_, _, doc) = raised.get_json("/factorial/openapi.json").await;
    assert_eq!(
        doc["paths"]["/factorial/{n}/"]["get"]["parameters"][0]["schema"]["maximum"],
        10_000
    );
}

#[tokio::test]
async fn the_binary_takes_its_limit_from_a_flag() {
    let server = RunningBinary::start(
        env!("CARGO_BIN_EXE_factorial"),
        &["--factorial-max-n", "20"],
        &[],
    )
    .await;
    let client = mathapi_testing::client();
    let (status, _, body) = mathapi_testing::json_of(
        client
            .get(server.url("/factorial/20/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("2432902008176640000"))
    );
    let refused = client
        .get(server.url("/factorial/21/"))
        .send()
        .await
        .unwrap();
    assert_problem(refused, 400, Some("out_of_range")).await;
}

#[tokio::test]
async fn the_binary_takes_faults_for_its_own_function_only() {
    let dir = std::env::temp_dir().join(format!("factorial-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("faults.json");
    // A service process serves one function: a fault for another one is a mistake.
    std::fs::write(&file, r#"{"fibonacci": {"error_rate": 1}}"#).unwrap();
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_factorial"))
        .args(["--port", "0", "--fault-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown function \"fibonacci\""));

    std::fs::write(&file, r#"{"factorial": {"error_rate": 1}}"#).unwrap();
    let server = RunningBinary::start(
        env!("CARGO_BIN_EXE_factorial"),
        &[],
        &[("MATHAPI_FAULT_FILE", file.to_str().unwrap())],
    )
    .await;
    let failed = mathapi_testing::client()
        .get(server.url("/factorial/3/"))
        .send()
        .await
        .unwrap();
    assert_problem(failed, 500, Some("injected_fault")).await;
    std::fs::remove_dir_all(&dir).unwrap();
}
