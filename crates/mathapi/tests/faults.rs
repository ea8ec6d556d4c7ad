//! Fault injection on the real `mathapi` binary: off unless started with a fault file,
//! switched by rewriting the file and sending SIGHUP, every fault logged and counted.

use std::path::Path;
use std::time::{Duration, Instant};

use mathapi_testing::{RunningBinary, assert_problem, client};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

async fn start(args: &[&str]) -> (RunningBinary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut all = vec!["--sequence-data-dir", data.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (RunningBinary::start(BINARY, &all, &[]).await, data)
}

/// Rewrites the fault file and sends SIGHUP, then waits for the reload's `n`-th log line
/// (applied or refused) so the test knows the new settings are in force.
async fn switch(server: &RunningBinary, file: &Path, contents: Option<&str>, reloads: usize) {
    match contents {
        Some(text) => std::fs::write(file, text).unwrap(),
        None => std::fs::remove_file(file).unwrap(),
    }
    server.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while reload_lines(server) < reloads {
        assert!(Instant::now() < deadline, "no reload line after SIGHUP");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn reload_lines(server: &RunningBinary) -> usize {
    server
        .lines()
        .iter()
        .filter(|l| l.contains("fault settings applied") || l.contains("fault file refused"))
        .count()
}

async fn get(server: &RunningBinary, path: &str, id: &str) -> reqwest::Response {
    client()
        .get(server.url(path))
        .header("X-Request-Id", id)
        .send()
        .await
        .unwrap()
}

async fn completed_line(server: &RunningBinary, id: &str) -> Value {
    server
        .wait_for_log(|r| r["request_id"] == id && r["msg"] == "request completed")
        .await
}

#[tokio::test]
async fn faults_switch_on_and_off_with_the_file_and_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    let (server, _data) = start(&["--fault-file", file.to_str().unwrap()]).await;
    server
        .wait_for_log(|r| {
            r["msg"] == "fault injection enabled"
                && r["detail"].as_str().is_some_and(|d| d.ends_with(": none"))
        })
        .await;
    assert_eq!(get(&server, "/factorial/5/", "before").await.status(), 200);

    // Every factorial request fails; cached answers too (5! was cached above).
    switch(
        &server,
        &file,
        Some(r#"{"factorial": {"error_rate": 1.0}}"#),
        1,
    )
    .await;
    for (path, id) in [("/factorial/5/", "cached"), ("/factorial/6/", "fresh")] {
        let body = assert_problem(get(&server, path, id).await, 500, Some("injected_fault")).await;
        assert_eq!(body["instance"], path);
        let line = completed_line(&server, id).await;
        assert_eq!(line["fault"], "error", "{line}");
        assert_eq!(line["http_route"], "/factorial/{n}/", "{line}");
        assert_eq!(line["level"], 50, "{line}");
    }
    // Other functions, the documents and the operational endpoints are untouched.
    for path in ["/fibonacci/10/", "/factorial/docs", "/health", "/ready"] {
        assert_eq!(
            get(&server, path, "untouched").await.status(),
            200,
            "{path}"
        );
    }
    let page = server.metrics().await;
    assert!(
        page.contains(r#"mathapi_injected_faults_total{function="factorial",kind="error"} 2"#),
        "{page}"
    );
    // The alert rules see them as server errors of the route.
    assert!(
        page.contains(r#"http_response_status_code="500",http_route="/factorial/{n}/"}"#),
        "{page}"
    );

    // A refused file (a typo) leaves the fault in force.
    switch(
        &server,
        &file,
        Some(r#"{"factorial": {"eror_rate": 0}}"#),
        2,
    )
    .await;
    server
        .wait_for_log(|r| {
            r["level"] == 50
                && r["detail"].as_str().is_some_and(|d| {
                    d.contains("unknown field `eror_rate`")
                        && d.ends_with("in force: factorial: 0 ms, 100% errors")
                })
        })
        .await;
    assert_problem(get(&server, "/factorial/7/", "still").await, 500, None).await;

    // Latency instead of errors: the answer is right, and late.
    switch(
        &server,
        &file,
        Some(r#"{"factorial": {"latency_ms": 300}}"#),
        3,
    )
    .await;
    let started = Instant::now();
    let slow = get(&server, "/factorial/5/", "slow").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(slow.status(), 200);
    let body: Value = slow.json().await.unwrap();
    assert_eq!(body["result"], "120", "{body}");
    let line = completed_line(&server, "slow").await;
    assert_eq!(line["fault"], "latency", "{line}");
    assert!(line["latency_ms"].as_f64().unwrap() >= 300.0, "{line}");
    server
        .wait_for_log(|r| r["detail"] == "factorial: 300 ms, 0% errors")
        .await;

    // No file: no faults, and the lines say so.
    switch(&server, &file, None, 4).await;
    assert_eq!(get(&server, "/factorial/7/", "after").await.status(), 200);
    let line = completed_line(&server, "after").await;
    assert!(line.get("fault").is_none(), "{line}");
    let page = server.metrics().await;
    assert!(page.contains(r#"mathapi_fault_reloads_total{outcome="applied"} 3"#));
    assert!(page.contains(r#"mathapi_fault_reloads_total{outcome="refused"} 1"#));
}

#[tokio::test]
async fn without_a_fault_file_sighup_changes_nothing() {
    let (server, _data) = start(&[]).await;
    server.signal("HUP");
    server
        .wait_for_log(|r| {
            r["msg"]
                .as_str()
                .is_some_and(|m| m.starts_with("SIGHUP ignored"))
        })
        .await;
    // Still serving, with no fault possible.
    assert_eq!(get(&server, "/factorial/5/", "alive").await.status(), 200);
    assert!(
        server
            .metrics()
            .await
            .contains(r#"mathapi_fault_reloads_total{outcome="disabled"} 1"#)
    );
}

#[tokio::test]
async fn an_invalid_fault_file_at_start_up_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    std::fs::write(&file, r#"{"fibonacci": {"latency_ms": 60000}}"#).unwrap();
    let output = std::process::Command::new(BINARY)
        .args(["--port", "0", "--fault-file", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fault file refused") && stderr.contains("at most 10000"),
        "{stderr}"
    );
}

/// Makes a named pipe at `path` with the system's `mkfifo`.
fn make_fifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
}

#[tokio::test]
async fn a_named_pipe_as_the_fault_file_is_refused_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    std::fs::write(&file, r#"{"factorial": {"error_rate": 1.0}}"#).unwrap();
    let (mut server, _data) = start(&["--fault-file", file.to_str().unwrap()]).await;

    // The file becomes a named pipe no one writes to: opening it the usual way would wait
    // for a writer for ever, on the worker that reloads.
    std::fs::remove_file(&file).unwrap();
    make_fifo(&file);
    server.signal("HUP");
    let refused = server
        .wait_for_log(|r| r["msg"] == "fault file refused; the faults in force are unchanged")
        .await;
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("not a regular file (a named pipe)"),
        "{detail}"
    );
    assert!(
        detail.contains("in force: factorial: 0 ms, 100% errors"),
        "{detail}"
    );

    // Still serving, with the faults that were in force.
    assert_eq!(get(&server, "/health", "health").await.status(), 200);
    assert_problem(
        get(&server, "/factorial/5/", "kept").await,
        500,
        Some("injected_fault"),
    )
    .await;
    assert!(
        server
            .metrics()
            .await
            .contains(r#"mathapi_fault_reloads_total{outcome="refused"} 1"#)
    );

    // A regular file again: the next reload applies it.
    std::fs::remove_file(&file).unwrap();
    switch(&server, &file, Some("{}"), 2).await;
    assert_eq!(get(&server, "/factorial/5/", "after").await.status(), 200);

    // And SIGTERM still stops it.
    server.signal("TERM");
    assert!(server.wait().await.success());
}

#[tokio::test]
async fn a_named_pipe_as_the_fault_file_at_start_up_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("faults.json");
    make_fifo(&file);
    let data = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(BINARY)
        .args(["--port", "0", "--fault-file", file.to_str().unwrap()])
        .arg("--sequence-data-dir")
        .arg(data.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(mathapi_testing::TIMEOUT, run)
        .await
        .expect("start-up hung on the named pipe")
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fault file refused") && stderr.contains("not a regular file"),
        "{stderr}"
    );
}
