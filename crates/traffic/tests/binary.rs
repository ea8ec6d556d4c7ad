//! The `mathapi-traffic` binary: exit codes, `--summary-json`, Ctrl-C.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{Behaviour, closed_port, start};

fn command(url: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mathapi-traffic"));
    command
        .args(["--url", url, "--no-progress", "--seed", "3"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the binary off the async runtime, so the in-process server keeps serving.
async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_against_a_faithful_api_and_writes_json() {
    let server = start(Behaviour::Faithful, "", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("summary.json");
    let out = output(command(
        &server.url(""),
        &[
            "--requests=300",
            "--rate=0",
            "--error-share=0.5",
            "--check",
            "--summary-json",
            json_path.to_str().unwrap(),
        ],
    ))
    .await;

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("300 sent, 300 responses, 0 transport errors"),
        "{stdout}"
    );
    let json = read_json(&json_path);
    assert_eq!(json["sent"], 300);
    assert_eq!(json["mismatched"], 0);
    assert_eq!(json["seed"], 3);
    assert_eq!(server.tally.total(), 300);
    for (code, n) in server.tally.statuses() {
        assert_eq!(json["status_codes"][code.to_string()], n, "{code}");
    }
    for key in ["p50", "p90", "p99", "max"] {
        assert!(json["latency_ms"][key].as_f64().unwrap() > 0.0, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_fails_against_a_wrong_api() {
    let server = start(Behaviour::AlwaysOk, "", Duration::ZERO).await;
    let args = ["--requests=50", "--rate=0", "--error-share=0.5"];
    let without = output(command(&server.url(""), &args)).await;
    assert_eq!(without.status.code(), Some(0));

    let mut with_check = args.to_vec();
    with_check.push("--check");
    let with = output(command(&server.url(""), &with_check)).await;
    assert_eq!(with.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&with.stderr).contains("check failed"));
    assert!(String::from_utf8_lossy(&with.stdout).contains("expected 400, got 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_target_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("summary.json");
    let url = format!("http://127.0.0.1:{}", closed_port());
    let out = output(command(
        &url,
        &[
            "--requests=5",
            "--summary-json",
            json_path.to_str().unwrap(),
        ],
    ))
    .await;

    assert_eq!(out.status.code(), Some(3));
    let json = read_json(&json_path);
    assert_eq!(json["responses"], 0);
    assert_eq!(json["transport_errors"], 5);
    assert_eq!(json["transport_error_kinds"]["connect"], 5);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the API running?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_exit_2() {
    let out = output(command("http://127.0.0.1:1", &["--error-share=2"])).await;
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_early_and_prints_the_summary() {
    let server = start(Behaviour::Faithful, "", Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("summary.json");
    let child = command(
        &server.url(""),
        &[
            "--duration=60s",
            "--rate=50",
            "--summary-json",
            json_path.to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();

    // A request arriving means the run loop, and with it the Ctrl-C handler, is live.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while server.tally.total() < 5 {
        assert!(tokio::time::Instant::now() < deadline, "no traffic arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();

    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(interrupted)"));
    let json = read_json(&json_path);
    assert_eq!(json["interrupted"], true);
    assert!(json["elapsed_seconds"].as_f64().unwrap() < 30.0);
    assert_eq!(json["sent"], server.tally.total());
}
