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

/// The one `request completed` line of the request with id `id`.
fn request_lines<'a>(all: &'a [Value], id: &str) -> Vec<&'a Value> {
    all.iter().filter(|r| r["request_id"] == id).collect()
}

#[tokio::test]
async fn every_log_line_is_bunyan_json_and_each_request_writes_one_line() {
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
    let missing = http
        .get(server.url("/nowhere"))
        .header("X-Request-Id", "log-test-404")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    server
        .wait_for_log(|r| r["request_id"] == "log-test-404")
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
        assert!(
            record.get("elapsed_milliseconds").is_none(),
            "no span lines: {record}"
        );
    }

    let ok_lines = request_lines(&all, "log-test-ok");
    assert_eq!(ok_lines.len(), 1, "one line per request: {ok_lines:?}");
    let request = ok_lines[0];
    assert_eq!(request["msg"], "request completed");
    assert_eq!(request["level"], 30);
    assert_eq!(request["http_method"], "GET");
    assert_eq!(request["http_route"], "/ackermann/{m}/{n}/");
    assert_eq!(request["url_path"], "/ackermann/3/4/");
    assert_eq!(request["http_status"], 200);
    assert_eq!(request["function"], "ackermann");
    assert_eq!(request["arguments"], "m=3,n=4");
    assert_eq!(request["result_digits"], 3, "A(3, 4) = 125");
    let latency = request["latency_ms"].as_f64().unwrap();
    let compute = request["compute_ms"].as_f64().unwrap();
    assert!(
        latency > 0.0 && compute >= 0.0 && compute <= latency,
        "{request}"
    );
    assert!(request.get("reason").is_none() && request.get("detail").is_none());

    let bad_lines = request_lines(&all, "log-test-bad");
    assert_eq!(bad_lines.len(), 1, "one line per request: {bad_lines:?}");
    let rejected = bad_lines[0];
    assert_eq!(rejected["msg"], "request completed");
    assert_eq!(rejected["http_status"], 400);
    assert_eq!(rejected["reason"], "negative");
    assert_eq!(rejected["function"], "factorial");
    assert_eq!(rejected["arguments"], "n=-7");
    assert!(
        rejected["detail"]
            .as_str()
            .unwrap()
            .contains("negative number -7")
    );
    assert!(
        rejected.get("compute_ms").is_none(),
        "nothing is computed for bad input"
    );

    let not_found = request_lines(&all, "log-test-404");
    assert_eq!(not_found.len(), 1);
    assert_eq!(not_found[0]["http_status"], 404);
    assert!(not_found[0].get("http_route").is_none(), "no route matched");
    assert!(not_found[0].get("function").is_none());
}

#[tokio::test]
async fn a_line_is_visible_at_idle_without_waiting_for_more_traffic() {
    let (server, _data) = start(&[], &[("RUST_LOG", "info")]).await;
    let response = client()
        .get(server.url("/fibonacci/10/"))
        .header("X-Request-Id", "idle-line")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The flush timer runs every 50 ms; two seconds is generous, and without the timer the
    // line would wait for 32 KiB of other lines or the shutdown.
    let seen = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        server.wait_for_log(|r| r["request_id"] == "idle-line"),
    )
    .await;
    assert!(seen.is_ok(), "the line did not appear at idle");
}

#[tokio::test]
async fn the_log_level_comes_from_rust_log() {
    // The harness finds the port in the `listening` line, so that module stays at info.
    // Every factorial request fails with a 500, logged at `error`: a line that must pass.
    let faults = tempfile::tempdir().unwrap();
    let file = faults.path().join("faults.json");
    std::fs::write(&file, r#"{"factorial": {"error_rate": 1.0}}"#).unwrap();
    let (server, _data) = start(
        &["--fault-file", file.to_str().unwrap()],
        &[("RUST_LOG", "warn,mathapi_server::process=info")],
    )
    .await;
    let http = client();
    assert_eq!(
        http.get(server.url("/fibonacci/1/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(server.url("/fibonacci/x/"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        http.get(server.url("/factorial/5/"))
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    // Lines are written in order: once the 500's line is out, the earlier requests' lines
    // would be out too, had they passed the filter.
    server
        .wait_for_log(|r| r["msg"] == "request completed" && r["http_status"] == 500)
        .await;
    let levels: Vec<u64> = records(&server)
        .iter()
        .filter(|r| r["target"] != "mathapi_server::process")
        .map(|r| r["level"].as_u64().unwrap())
        .collect();
    assert!(!levels.is_empty(), "the error line passes the filter");
    assert!(
        levels.iter().all(|l| *l >= 40),
        "only warn and above: {levels:?}"
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_loses_no_line_and_exits_zero() {
    // No render cache: every request computes, so several are in flight at the signal.
    let (mut server, _data) = start(
        &["--factorial-max-n", "10000", "--render-cache-bytes", "0"],
        &[],
    )
    .await;
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
        .wait_for_log(|r| {
            r["msg"] == "request completed"
                && r["request_id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("drain-"))
        })
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
    // `stopped` is the last line: everything flushed at exit has been read by then.
    server.wait_for_log(|r| r["msg"] == "stopped").await;
    let all = records(&server);
    let logged = |i: usize| {
        all.iter()
            .filter(|r| r["msg"] == "request completed" && r["request_id"] == format!("drain-{i}"))
            .count()
    };
    let in_flight_at_signal = all
        .iter()
        .skip_while(|r| r["msg"] != "shutting down")
        .filter(|r| r["msg"] == "request completed")
        .count();
    assert!(
        in_flight_at_signal > 0,
        "the test must catch requests in flight"
    );
    for (i, answer) in answers.iter().enumerate() {
        match answer {
            Some((status, _, body)) => {
                // Every request the server answered is answered in full, and logged: the
                // lines still buffered at the signal are written before the exit.
                assert_eq!(*status, 200, "drain-{i}");
                assert_eq!(body["result"].as_str().unwrap().len(), 35_660);
                assert_eq!(logged(i), 1, "drain-{i} was answered but its line is lost");
            }
            // One it never began may be refused, and then it has no line.
            None => assert_eq!(logged(i), 0, "drain-{i} logged but not answered"),
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

#[tokio::test]
async fn pretty_log_lines_are_short_and_name_the_request() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let data = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(BINARY)
        .args([
            "--port",
            "0",
            "--log-format",
            "pretty",
            "--sequence-data-dir",
        ])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = lines.next_line().await.unwrap().expect("a first line");
    assert!(!listening.starts_with('{'), "not pretty: {listening}");
    let address = listening
        .split_once("address=")
        .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no address: {listening}"));
    let response = client()
        .get(format!("http://{address}/fibonacci/10/"))
        .header("X-Request-Id", "pretty-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let line = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the request's line");
        if line.contains("request completed") {
            break line;
        }
    };
    // `12:04:05.123  INFO request completed  GET /fibonacci/{n}/ 200 0.4 ms  request_id=…`
    let (clock, rest) = line.split_once(' ').unwrap();
    assert_eq!(clock.len(), 12, "{line}");
    assert!(
        clock
            .chars()
            .all(|c| c.is_ascii_digit() || c == ':' || c == '.'),
        "{line}"
    );
    assert!(
        rest.trim_start().starts_with("INFO request completed"),
        "{line}"
    );
    assert!(line.contains("GET /fibonacci/{n}/ 200 "), "{line}");
    assert!(line.contains(" ms "), "{line}");
    assert!(line.ends_with("request_id=pretty-1"), "{line}");
}

#[tokio::test]
async fn auto_log_format_is_json_when_stdout_is_a_pipe() {
    let (server, _data) = start(&["--log-format", "auto"], &[]).await;
    // `start` found the `listening` line by parsing it as JSON; every other line is JSON too.
    client().get(server.url("/health")).send().await.unwrap();
    assert!(!records(&server).is_empty());
}
