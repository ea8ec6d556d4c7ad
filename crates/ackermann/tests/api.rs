//! The Ackermann service over real HTTP, in-process on a random port.

use mathapi_ackermann::AckermannApi;
use mathapi_http::{AppContext, single_api_app};
use mathapi_telemetry::Metrics;
use mathapi_testing::{RunningBinary, TestApp, assert_problem};

async fn spawn(max_m: u64, max_n: u64) -> TestApp {
    let metrics = Metrics::new("ackermann").unwrap();
    let api = AckermannApi::with_maxima([max_m, max_n], &metrics);
    TestApp::spawn(single_api_app(
        api,
        &AppContext::with_default_cache(&metrics),
    ))
    .await
}

/// The published table of A(m, n) for m ≤ 3, n ≤ 4.
const TABLE: [[u64; 5]; 4] = [
    [1, 2, 3, 4, 5],
    [2, 3, 4, 5, 6],
    [3, 5, 7, 9, 11],
    [5, 13, 29, 61, 125],
];

#[tokio::test]
async fn every_default_argument_matches_the_published_table() {
    let app = spawn(3, 4).await;
    for (m, row) in TABLE.iter().enumerate() {
        for (n, want) in row.iter().enumerate() {
            let (status, _, body) = app.get_json(&format!("/ackermann/{m}/{n}/")).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body,
                serde_json::json!({"m": m, "n": n, "result": want.to_string()})
            );
        }
    }
}

#[tokio::test]
async fn limits_apply_to_each_argument() {
    let app = spawn(3, 4).await;
    let body = assert_problem(app.get("/ackermann/4/0/").await, 400, Some("out_of_range")).await;
    assert_eq!(body["detail"], "m must be an integer from 0 to 3, got 4");
    let body = assert_problem(app.get("/ackermann/3/5").await, 400, Some("out_of_range")).await;
    assert_eq!(body["detail"], "n must be an integer from 0 to 4, got 5");
}

#[tokio::test]
async fn row_four_is_answered_where_computable() {
    let app = spawn(4, 100_000).await;
    let (_, _, body) = app.get_json("/ackermann/4/1/").await;
    assert_eq!(body["result"], "65533");
    let (status, _, body) = app.get_json("/ackermann/4/2/").await;
    assert_eq!(status, 200);
    let digits = body["result"].as_str().unwrap();
    assert_eq!(digits.len(), 19_729, "2^65536 - 3 has 19729 digits");
    assert!(digits.ends_with("156733"));
    let body = assert_problem(
        app.get("/ackermann/4/3/").await,
        400,
        Some("not_computable"),
    )
    .await;
    assert!(
        body["detail"].as_str().unwrap().contains("A(4, 3)"),
        "{body}"
    );
    // A(3, n) = 2^(n+3) - 3 at the hard cap: 2^100003 has 30104 digits (floor(100003 log10 2) + 1).
    let (_, _, body) = app.get_json("/ackermann/3/100000/").await;
    assert_eq!(body["result"].as_str().unwrap().len(), 30_104);
}

#[tokio::test]
async fn missing_arguments_are_named() {
    let app = spawn(3, 4).await;
    for (path, missing) in [
        ("/ackermann/3/", "n"),
        ("/ackermann/3", "n"),
        ("/ackermann/", "m"),
        ("/ackermann", "m"),
    ] {
        let body = assert_problem(app.get(path).await, 400, Some("missing_argument")).await;
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("argument {missing} is missing")),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn the_binary_serves_its_table() {
    let server = RunningBinary::start(
        env!("CARGO_BIN_EXE_ackermann"),
        &["--ackermann-max-m", "4"],
        &[],
    )
    .await;
    let (status, _, body) = mathapi_testing::json_of(
        mathapi_testing::client()
            .get(server.url("/ackermann/4/0/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["result"].as_str()), (200, Some("13")));
}
