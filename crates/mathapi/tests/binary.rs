//! The real `mathapi` binary: its log lines, graceful shutdown and start-up errors.

use mathapi_testing::{RunningBinary, client, json_of};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

/// Starts the binary with its own sequence data directory.
async fn start(args: &[&str], env: &[(&str, &str)]) -> (RunningBinary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut all = vec!["--sequence-data-dir", data.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (RunningBinary::start(BINARY, &all, env).await, data)
}

fn records(server: &RunningBinary) -> Vec<Value> {
    server
        .lines()
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

#[tokio::test]
async fn every_log_line_is_bunyan_json_and_requests_carry_the_contract_fields() {
    let (server, _data) = start(&[], &[("RUST_LOG", "info")]).await;
    let http = client();
    let ok = http
        .get(server.url("/ackermann/3/4/"))
        .header("X-Request-Id", "log-test-ok")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let bad = http
        .get(server.url("/factorial/-7/"))
        .header("X-Request-Id", "log-test-bad")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let end = server
        .wait_for_log(|r| r["msg"] == "[HTTP_REQUEST - END]" && r["request_id"] == "log-test-bad")
        .await;
    let all = records(&server);
    for record in &all {
        assert_eq!(record["v"], 0, "{record}");
        assert_eq!(record["name"], "mathapi", "{record}");
        for field in ["msg", "hostname", "time", "target"] {
            assert!(record[field].is_string(), "{field} in {record}");
        }
        assert!(
            record["level"].is_u64() && record["pid"].is_u64(),
            "{record}"
        );
    }

    let of = |id: &str| {
        all.iter()
            .filter(|r| r["request_id"] == id)
            .cloned()
            .collect::<Vec<_>>()
    };
    let ok_lines = of("log-test-ok");
    let msgs: Vec<&str> = ok_lines
        .iter()
        .map(|r| r["msg"].as_str().unwrap())
        .collect();
    assert_eq!(
        msgs,
        [
            "[HTTP_REQUEST - START]",
            "[COMPUTATION - START]",
            "[COMPUTATION - END]",
            "[HTTP_REQUEST - END]"
        ]
    );
    let request = ok_lines.last().unwrap();
    assert_eq!(request["http_method"], "GET");
    assert_eq!(request["http_route"], "/ackermann/{m}/{n}/");
    assert_eq!(request["url_path"], "/ackermann/3/4/");
    assert_eq!(request["http_status"], 200);
    assert_eq!(request["function"], "ackermann");
    assert_eq!(request["arguments"], "m=3,n=4");
    assert!(request["latency_ms"].as_f64().unwrap() > 0.0, "{request}");
    assert!(request["elapsed_milliseconds"].is_u64(), "{request}");
    let computation = &ok_lines[2];
    assert_eq!(computation["result_digits"], 3);
    assert!(computation["elapsed_milliseconds"].is_u64());

    let bad_lines = of("log-test-bad");
    let rejected = bad_lines
        .iter()
        .find(|r| r["msg"] == "[HTTP_REQUEST - EVENT] rejected input")
        .expect("a rejected-input line");
    assert_eq!(rejected["level"], 40);
    assert_eq!(rejected["reason"], "negative");
    assert_eq!(rejected["function"], "factorial");
    assert_eq!(rejected["arguments"], "n=-7");
    assert!(
        rejected["detail"]
            .as_str()
            .unwrap()
            .contains("negative number -7")
    );
    assert_eq!(end["http_status"], 400);
    assert!(
        bad_lines
            .iter()
            .all(|r| r["msg"] != "[COMPUTATION - START]"),
        "nothing is computed for bad input"
    );
}

#[tokio::test]
async fn the_log_level_comes_from_rust_log() {
    // The harness finds the port in the `listening` line, so that module stays at info.
    let (server, _data) = start(&[], &[("RUST_LOG", "warn,mathapi_service::server=info")]).await;
    let http = client();
    http.get(server.url("/fibonacci/1/")).send().await.unwrap();
    http.get(server.url("/fibonacci/x/")).send().await.unwrap();
    server
        .wait_for_log(|r| r["msg"].as_str().unwrap().ends_with("rejected input"))
        .await;
    let levels: Vec<u64> = records(&server)
        .iter()
        .filter(|r| r["target"] != "mathapi_service::server")
        .map(|r| r["level"].as_u64().unwrap())
        .collect();
    assert!(
        levels.iter().all(|l| *l >= 40),
        "only warn and above: {levels:?}"
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_exits_zero() {
    let (mut server, _data) = start(&["--factorial-max-n", "10000"], &[]).await;
    let http = client();
    // Slow requests, so that several are being served when the signal arrives.
    let requests: Vec<_> = (0..40)
        .map(|i| {
            let request = http
                .get(server.url("/factorial/10000/"))
                .header("X-Request-Id", format!("drain-{i}"));
            tokio::spawn(async move {
                match request.send().await {
                    Ok(response) => Some(json_of(response).await),
                    Err(_) => None,
                }
            })
        })
        .collect();
    server
        .wait_for_log(|r| r["msg"] == "[COMPUTATION - END]")
        .await;
    server.signal("TERM");
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap());
    }
    let status = server.wait().await;
    assert_eq!(status.code(), Some(0), "a clean shutdown exits 0");

    let shutdown = server.wait_for_log(|r| r["msg"] == "shutting down").await;
    assert_eq!(shutdown["signal"], "SIGTERM");
    let all = records(&server);
    let started = |i: usize| {
        all.iter().any(|r| {
            r["msg"] == "[HTTP_REQUEST - START]" && r["request_id"] == format!("drain-{i}")
        })
    };
    let in_flight_at_signal = all
        .iter()
        .skip_while(|r| r["msg"] != "shutting down")
        .filter(|r| r["msg"] == "[HTTP_REQUEST - END]")
        .count();
    assert!(
        in_flight_at_signal > 0,
        "the test must catch requests in flight"
    );
    for (i, answer) in answers.iter().enumerate() {
        if started(i) {
            // Every request the server had begun is answered in full.
            let (status, _, body) = answer
                .as_ref()
                .unwrap_or_else(|| panic!("drain-{i} was started but cut off"));
            assert_eq!(*status, 200);
            assert_eq!(body["result"].as_str().unwrap().len(), 35_660);
        } else {
            // One it never began may be refused, but never answered with an error.
            assert!(
                answer.as_ref().is_none_or(|(status, _, _)| *status == 200),
                "drain-{i}: {answer:?}"
            );
        }
    }
    // New connections are refused once it has gone.
    assert!(http.get(server.url("/health")).send().await.is_err());
}

#[tokio::test]
async fn a_busy_port_is_a_clear_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(BINARY)
        .args(["--host", "127.0.0.1", "--port", &port])
        .arg("--sequence-data-dir")
        .arg(data.path())
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}
