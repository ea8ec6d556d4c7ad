//! Hostile and unlucky inputs, each reproduced against the real `mathapi` binary over real
//! sockets: HTTP conformance (Allow, OPTIONS, Host, reasons, documented examples), load
//! shedding, and accept errors at the file-descriptor limit.

use std::time::Duration;

use mathapi_testing::{RunningBinary, assert_problem, client, json_of};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

/// Starts the binary with its own sequence data directory and `args`.
async fn start(args: &[&str]) -> (RunningBinary, tempfile::TempDir) {
    start_wrapped(&[], args).await
}

async fn start_wrapped(wrapper: &[&str], args: &[&str]) -> (RunningBinary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut all = vec!["--sequence-data-dir", data.path().to_str().unwrap()];
    all.extend_from_slice(args);
    let server = RunningBinary::start_wrapped(wrapper, BINARY, &all, &[]).await;
    (server, data)
}

/// Sends `request` as raw bytes on a new connection and returns the whole answer (the
/// request says `Connection: close`, or is HTTP/1.0).
async fn raw(server: &RunningBinary, request: &str) -> String {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

fn body_of(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or(Value::Null)
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test]
async fn every_405_carries_allow_and_options_answers_204_with_allow() {
    let (server, _data) = start(&[]).await;
    let http = client();
    for method in ["PUT", "DELETE", "PATCH", "TRACE"] {
        for path in [
            "/fibonacci/10/",
            "/ackermann/2/3/",
            "/factorial/5",
            "/health",
        ] {
            let request = http.request(method.parse().unwrap(), server.url(path));
            let response = request.send().await.unwrap();
            let allow = response.headers().get("allow").cloned();
            assert_problem(response, 405, None).await;
            assert_eq!(
                allow.as_ref().and_then(|a| a.to_str().ok()),
                Some("GET, HEAD, OPTIONS"),
                "{method} {path}"
            );
        }
    }
    // The sequence's routes take POST (and GET, kept for old clients).
    let response = http
        .put(server.url("/fibonacci/reset"))
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert_eq!(response.status(), 405);
    assert!(
        allow.contains("POST") && allow.contains("OPTIONS"),
        "{allow}"
    );

    for path in ["/fibonacci/10/", "/ackermann/3/4", "/metrics"] {
        let response = http
            .request(reqwest::Method::OPTIONS, server.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "OPTIONS {path}");
        assert_eq!(response.headers()["allow"], "GET, HEAD, OPTIONS");
    }
    let response = http
        .request(reqwest::Method::OPTIONS, server.url("/nothing/here"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 404, None).await;
}

#[tokio::test]
async fn host_header_rules_of_rfc_9112() {
    let (server, _data) = start(&[]).await;
    let missing = raw(&server, "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(missing.starts_with("HTTP/1.1 400"), "{missing}");
    assert_eq!(body_of(&missing)["reason"], "missing_host", "{missing}");
    let twice = raw(
        &server,
        "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(twice.starts_with("HTTP/1.1 400"), "{twice}");
    assert_eq!(body_of(&twice)["reason"], "duplicate_host", "{twice}");
    assert_eq!(
        header(&twice, "content-type"),
        Some("application/problem+json")
    );
    // HTTP/1.0 may omit it; one Host is fine.
    let old = raw(&server, "GET /health HTTP/1.0\r\n\r\n").await;
    assert!(
        old.starts_with("HTTP/1.0 200") || old.starts_with("HTTP/1.1 200"),
        "{old}"
    );
    let fine = raw(
        &server,
        "GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
}

#[tokio::test]
async fn every_400_has_a_reason_even_a_path_that_is_not_utf8() {
    let (server, _data) = start(&[]).await;
    let http = client();
    for path in ["/fibonacci/%FF/", "/ackermann/%FF/1/", "/factorial/%C3%28"] {
        let body =
            assert_problem(http.get(server.url(path)).send().await.unwrap(), 400, None).await;
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{path}: {body}"
        );
    }
}

/// Every operation of `spec` called with its documented parameter examples.
fn documented_calls(spec: &Value) -> Vec<String> {
    let mut calls = Vec::new();
    for (template, item) in spec["paths"].as_object().unwrap() {
        let Some(get) = item.get("get") else { continue };
        let mut path = template.clone();
        // Path parameters: the optional `If-None-Match` header is not sent by "Try it out".
        let path_params = get["parameters"].as_array().into_iter().flatten();
        for param in path_params.filter(|p| p["in"] == "path") {
            let example = param["example"].as_u64().unwrap_or_else(|| {
                panic!("{template}: parameter {} has no example", param["name"])
            });
            path = path.replace(
                &format!("{{{}}}", param["name"].as_str().unwrap()),
                &example.to_string(),
            );
        }
        calls.push(path);
    }
    calls
}

#[tokio::test]
async fn every_documented_example_succeeds_at_the_caps_and_the_a4n_rule_is_stated() {
    let caps = [
        "--ackermann-max-m",
        "4",
        "--ackermann-max-n",
        "100000",
        "--factorial-max-n",
        "10000",
        "--fibonacci-max-n",
        "100000",
    ];
    for flags in [&caps[..], &[]] {
        let (server, _data) = start(flags).await;
        let http = client();
        for document in [
            "/openapi.json",
            "/ackermann/openapi.json",
            "/fibonacci/openapi.json",
            "/factorial/openapi.json",
        ] {
            let (_, _, spec) = json_of(http.get(server.url(document)).send().await.unwrap()).await;
            for call in documented_calls(&spec) {
                let response = http.get(server.url(&call)).send().await.unwrap();
                assert_eq!(response.status(), 200, "{document}: GET {call} ({flags:?})");
            }
            if document.contains("ackermann") || document == "/openapi.json" {
                let text = spec.to_string();
                assert!(text.contains("A(4, n) exists only for n ≤ 2"), "{document}");
            }
        }
    }
}

#[tokio::test]
async fn heavy_requests_beyond_the_limit_are_shed_fast_and_health_stays_up() {
    let (server, _data) = start(&[
        "--factorial-max-n",
        "10000",
        "--compute-concurrency",
        "1",
        "--compute-queue",
        "1",
        "--render-cache-bytes",
        "0",
    ])
    .await;
    let http = client();
    let heavy: Vec<_> = (0..24)
        .map(|_| {
            let request = http.get(server.url("/factorial/10000/"));
            tokio::spawn(async move { request.send().await.unwrap() })
        })
        .collect();
    let health = http.get(server.url("/health")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "/health answers while computations queue"
    );
    let mut shed = 0;
    let mut computed = 0;
    for request in heavy {
        let response = request.await.unwrap();
        match response.status().as_u16() {
            200 => computed += 1,
            503 => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert_problem(response, 503, Some("overloaded")).await;
                shed += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        computed >= 1 && shed >= 1,
        "computed {computed}, shed {shed}"
    );
    let metrics = server.metrics().await;
    let counted = format!("mathapi_shed_requests_total{{reason=\"overloaded\"}} {shed}");
    assert!(metrics.contains(&counted), "{counted} not in the metrics");
    let line = server
        .wait_for_log(|r| r["msg"] == "request completed" && r["http_status"] == 503)
        .await;
    assert_eq!(line["reason"], "overloaded");
}

/// CPU seconds the process has used (user + system), from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[tokio::test]
async fn at_the_fd_limit_accept_errors_back_off_are_logged_and_service_resumes() {
    let (server, _data) = start_wrapped(&["prlimit", "--nofile=64", "--"], &[]).await;
    // Far more connections than the server has descriptors for.
    let mut held = Vec::new();
    for _ in 0..100 {
        held.push(TcpStream::connect(server.address).await.unwrap());
    }
    let warned = server.wait_for_log(|r| r["msg"] == "accept failed").await;
    assert!(
        warned["detail"]
            .as_str()
            .unwrap()
            .contains("Too many open files"),
        "{warned}"
    );
    let before = cpu_seconds(server.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_seconds(server.pid()) - before;
    assert!(
        spent < 0.5,
        "{spent} CPU seconds in 2 s at the fd limit: spinning"
    );
    let warnings = server
        .lines()
        .iter()
        .filter(|l| l.contains("\"accept failed\""))
        .count();
    assert!(
        warnings <= 2,
        "{warnings} accept warnings: not rate-limited"
    );
    drop(held);
    let health = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(response) = client().get(server.url("/health")).send().await {
                return response.status();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("/health answers again once descriptors are free");
    assert_eq!(health, 200);
}
