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

/// The binary with no flags at all: only `env` configures it.
fn configured_by_env(env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mathapi-traffic"));
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_setting_can_come_from_its_environment_variable() {
    let server = start(Behaviour::Faithful, "", Duration::from_millis(20)).await;
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("summary.json");
    let out = output(configured_by_env(&[
        ("MATHAPI_TRAFFIC_URL", server.url("")),
        ("MATHAPI_TRAFFIC_REQUESTS", "40".into()),
        ("MATHAPI_TRAFFIC_RATE", "0".into()),
        ("MATHAPI_TRAFFIC_CONCURRENCY", "3".into()),
        ("MATHAPI_TRAFFIC_ERROR_SHARE", "0".into()),
        ("MATHAPI_TRAFFIC_FUNCTIONS", "factorial".into()),
        ("MATHAPI_TRAFFIC_SEED", "11".into()),
        ("MATHAPI_TRAFFIC_NO_PROGRESS", "true".into()),
        ("MATHAPI_TRAFFIC_CHECK", "true".into()),
        (
            "MATHAPI_TRAFFIC_SUMMARY_JSON",
            json_path.to_str().unwrap().into(),
        ),
    ]))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = read_json(&json_path);
    assert_eq!(json["sent"], 40);
    assert_eq!(server.tally.total(), 40);
    assert_eq!(json["seed"], 11);
    assert_eq!(json["concurrency"], 3);
    assert!(
        server
            .tally
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
            <= 3
    );
    // No invalid requests (the default share is 0.2), and factorial's only.
    assert_eq!(
        server.tally.statuses().keys().copied().collect::<Vec<_>>(),
        [200]
    );
    let functions: Vec<&String> = json["functions"].as_object().unwrap().keys().collect();
    assert_eq!(functions, ["factorial"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_timeout_and_duration_can_come_from_their_environment_variables() {
    // MATHAPI_TRAFFIC_CHECK against an API that answers 200 to everything: status 4, where
    // the same run without it exits 0.
    let broken = start(Behaviour::AlwaysOk, "", Duration::ZERO).await;
    let run = [
        ("MATHAPI_TRAFFIC_URL", broken.url("")),
        ("MATHAPI_TRAFFIC_REQUESTS", "20".into()),
        ("MATHAPI_TRAFFIC_RATE", "0".into()),
        ("MATHAPI_TRAFFIC_ERROR_SHARE", "1".into()),
    ];
    assert_eq!(output(configured_by_env(&run)).await.status.code(), Some(0));
    let mut checked = run.to_vec();
    checked.push(("MATHAPI_TRAFFIC_CHECK", "true".into()));
    assert_eq!(
        output(configured_by_env(&checked)).await.status.code(),
        Some(4)
    );

    // MATHAPI_TRAFFIC_TIMEOUT of 200 ms against answers that take 5 s: every request times out.
    let slow = start(Behaviour::Faithful, "", Duration::from_secs(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("summary.json");
    let out = output(configured_by_env(&[
        ("MATHAPI_TRAFFIC_URL", slow.url("")),
        ("MATHAPI_TRAFFIC_REQUESTS", "3".into()),
        ("MATHAPI_TRAFFIC_TIMEOUT", "200ms".into()),
        (
            "MATHAPI_TRAFFIC_SUMMARY_JSON",
            json_path.to_str().unwrap().into(),
        ),
    ]))
    .await;
    let json = read_json(&json_path);
    assert_eq!(json["transport_error_kinds"]["timeout"], 3, "{json}");
    assert_ne!(out.status.code(), Some(0));

    // MATHAPI_TRAFFIC_DURATION with no request count: the run ends by itself, at 5 requests
    // a second for 1 s (the default would be 30 s).
    let server = start(Behaviour::Faithful, "", Duration::ZERO).await;
    let json_path = dir.path().join("duration.json");
    let out = output(configured_by_env(&[
        ("MATHAPI_TRAFFIC_URL", server.url("")),
        ("MATHAPI_TRAFFIC_DURATION", "1s".into()),
        ("MATHAPI_TRAFFIC_RATE", "5".into()),
        (
            "MATHAPI_TRAFFIC_SUMMARY_JSON",
            json_path.to_str().unwrap().into(),
        ),
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0));
    let json = read_json(&json_path);
    assert_eq!(json["target_rate"], 5.0);
    assert_eq!(json["interrupted"], false);
    // At 5 a second a 30 s run sends about 150; a rate limiter never sends ahead of time.
    assert!(json["sent"].as_u64().unwrap() <= 10, "{json}");
}
