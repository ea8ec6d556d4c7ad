//! What a hostile client sends at the HTTP layer, against the real `mathapi` binary over
//! real sockets: requests the parser refuses, huge paths, `HEAD`, the methods a path takes,
//! `Origin` and DNS rebinding.

use std::time::Duration;

use mathapi_testing::{RunningBinary, client};
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");

/// Starts the binary with its own sequence data directory and `args`.
async fn start(args: &[&str]) -> (RunningBinary, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut all = vec!["--sequence-data-dir", data.path().to_str().unwrap()];
    all.extend_from_slice(args);
    (RunningBinary::start(BINARY, &all, &[]).await, data)
}

/// Sends `request` on a new connection and returns all the server sends until it closes.
async fn raw(server: &RunningBinary, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The answers in `text`, each as its head and its body (one per `\r\n\r\n`).
fn answers(text: &str) -> Vec<(String, String)> {
    let mut parts = text.split("\r\n\r\n");
    let mut found = Vec::new();
    while let Some(head) = parts.next() {
        if head.is_empty() {
            break;
        }
        let length: usize = header(head, "content-length").map_or(0, |l| l.parse().unwrap());
        let rest = parts.next().unwrap_or_default();
        found.push((head.to_owned(), rest[..length.min(rest.len())].to_owned()));
        if rest.len() > length {
            // A pipelined answer follows the body directly.
            let next = &rest[length..];
            let tail: Vec<&str> = parts.by_ref().collect();
            let again = [next, &tail.join("\r\n\r\n")].join("\r\n\r\n");
            found.extend(answers(&again));
            break;
        }
    }
    found
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The problem an answer carries, checked for a request id; returns (status, id, body).
fn problem_of(head: &str, body: &str) -> (u16, String, Value) {
    let status = head[9..12].parse().unwrap();
    assert_eq!(
        header(head, "content-type"),
        Some("application/problem+json"),
        "{head}"
    );
    let id = header(head, "x-request-id")
        .unwrap_or_else(|| panic!("no request id: {head}"))
        .to_owned();
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{head}\n{body}"));
    assert_eq!(body["status"], status, "{body}");
    (status, id, body)
}

/// The value of the `http_server_request_duration_seconds_count` series with `labels`.
fn requests_counted(metrics: &str, labels: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
        .filter(|l| l.contains(labels))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn requests_the_parser_refuses_get_problem_documents_logged_and_counted() {
    let (server, _data) = start(&[]).await;
    let many_headers: String = (0..100).map(|i| format!("X-{i}: 1\r\n")).collect();
    let cases: [(Vec<u8>, u16, &str); 4] = [
        (
            format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(65_535)).into_bytes(),
            431,
            "request_head_too_large",
        ),
        (
            format!("GET /health HTTP/1.1\r\nHost: a\r\n{many_headers}\r\n").into_bytes(),
            431,
            "request_head_too_large",
        ),
        (
            b"POST /fibonacci/next HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                .to_vec(),
            400,
            "malformed_request",
        ),
        (
            b"GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /he\x01lth HTTP/1.1\r\nHost: a\r\n\r\n"
                .to_vec(),
            400,
            "malformed_request",
        ),
    ];
    for (request, status, reason) in cases {
        let text = raw(&server, &request).await;
        let (head, body) = answers(&text).pop().unwrap_or_default();
        let (got, id, problem) = problem_of(&head, &body);
        assert_eq!(got, status, "{head}");
        assert_eq!(problem["reason"], reason, "{problem}");
        let line = server
            .wait_for_log(|l| l["request_id"] == id.as_str())
            .await;
        assert_eq!(line["http_status"], status, "{line}");
        assert_eq!(line["reason"], reason, "{line}");
    }
    let metrics = server.metrics().await;
    assert_eq!(
        requests_counted(&metrics, r#"http_response_status_code="431""#),
        2,
        "{metrics}"
    );
    assert_eq!(
        requests_counted(&metrics, r#"http_response_status_code="400""#),
        2
    );
}

#[tokio::test]
async fn a_huge_path_is_cut_in_the_answer_and_the_log_line() {
    let (server, _data) = start(&[]).await;
    let path = format!("/{}", "x".repeat(15_000));
    for method in [Method::GET, Method::PUT] {
        let response = client()
            .request(method.clone(), server.url(&format!("/fibonacci{path}")))
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(status.is_client_error(), "{method}: {status}");
        assert!(body.len() < 1_500, "{method}: a {} byte answer", body.len());
        let line = server
            .wait_for_log(|l| l["request_id"] == id.as_str())
            .await;
        assert!(
            line.to_string().len() < 2_000,
            "{method}: a {} byte log line",
            line.to_string().len()
        );
    }
}

#[tokio::test]
async fn head_has_the_headers_of_get_and_honours_if_none_match() {
    let (server, _data) = start(&[]).await;
    let http = client();
    for path in ["/fibonacci/10/", "/factorial/20/", "/ackermann/2/3/"] {
        let get = http.get(server.url(path)).send().await.unwrap();
        let etag = get.headers()["etag"].clone();
        let cache_control = get.headers()["cache-control"].clone();
        let length = get.bytes().await.unwrap().len();
        let head = http.head(server.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "{path}");
        assert_eq!(head.headers().get("etag"), Some(&etag), "{path}");
        assert_eq!(
            head.headers().get("cache-control"),
            Some(&cache_control),
            "{path}"
        );
        assert_eq!(
            head.headers()["content-length"].to_str().unwrap(),
            length.to_string(),
            "{path}"
        );
        let conditional = http
            .head(server.url(path))
            .header("if-none-match", etag.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(conditional.status(), 304, "{path}");
        assert_eq!(conditional.headers().get("etag"), Some(&etag), "{path}");
    }
}

/// A request path for each published template (every parameter `1`).
fn published_paths(spec: &Value) -> Vec<String> {
    spec["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|template| {
            template
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

#[tokio::test]
async fn allow_lists_exactly_the_methods_that_work() {
    let (server, _data) = start(&[]).await;
    let http = client();
    let spec: Value = http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    for path in published_paths(&spec) {
        let options = http
            .request(Method::OPTIONS, server.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(options.status(), 204, "OPTIONS {path}");
        let allow = options.headers()["allow"].to_str().unwrap().to_owned();
        let listed: Vec<&str> = allow.split(", ").collect();
        for method in methods {
            let response = http
                .request(method.parse().unwrap(), server.url(&path))
                .send()
                .await
                .unwrap();
            let refused = response.status() == 405;
            assert_eq!(
                refused,
                !listed.contains(&method),
                "{method} {path}: {} with Allow {allow}",
                response.status()
            );
            if refused {
                assert_eq!(
                    response.headers()["allow"].to_str().unwrap(),
                    allow,
                    "{method} {path}"
                );
            }
        }
    }
    let star = raw(
        &server,
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(star.starts_with("HTTP/1.1 204"), "{star}");
    assert!(
        header(&star, "allow").is_some_and(|a| a.contains("GET") && a.contains("POST")),
        "{star}"
    );
}

/// `POST /fibonacci/next` with `host` and `origins`, on a new connection: the status.
async fn step(server: &RunningBinary, host: &str, origins: &[&str]) -> u16 {
    let origins: String = origins.iter().map(|o| format!("Origin: {o}\r\n")).collect();
    let request = format!(
        "POST /fibonacci/next HTTP/1.1\r\nHost: {host}\r\n{origins}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(server, request.as_bytes()).await;
    answer[9..12].parse().unwrap()
}

#[tokio::test]
async fn state_changing_routes_accept_only_the_servers_own_origins() {
    let (server, _data) = start(&[]).await;
    let port = server.address.port();
    let own = format!("127.0.0.1:{port}");
    assert_eq!(step(&server, &own, &[&format!("http://{own}")]).await, 200);
    assert_eq!(step(&server, &own, &[]).await, 200);
    // DNS rebinding: the attacker's name, resolved to this server, as Host and Origin.
    let evil = format!("evil.example:{port}");
    assert_eq!(
        step(&server, &evil, &[&format!("http://{evil}")]).await,
        403
    );
    let twice = [format!("http://{own}"), format!("http://{evil}")];
    let twice: Vec<&str> = twice.iter().map(String::as_str).collect();
    assert_eq!(step(&server, &own, &twice).await, 403);

    let (server, _data) = start(&["--public-url", "https://math.example.com/"]).await;
    let own = format!("127.0.0.1:{}", server.address.port());
    assert_eq!(
        step(&server, "math.example.com", &["https://math.example.com"]).await,
        200
    );
    assert_eq!(step(&server, &own, &[&format!("http://{own}")]).await, 403);
}

#[tokio::test]
async fn hostile_methods_and_paths_add_no_method_labels() {
    let (server, _data) = start(&[]).await;
    let http = client();
    let methods = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "TRACE", "FOO",
    ];
    let paths = [
        "/fibonacci/10/",
        "/fibonacci/abc/",
        "/ackermann/9/",
        "/fibonacci/next",
        "/health",
        "/metrics",
        "/docs",
        "/openapi.json",
        "/fibonacci/docs",
        "/no/such/path",
    ];
    for method in methods {
        for path in paths {
            let request = http.request(method.parse().unwrap(), server.url(path));
            request.send().await.unwrap();
        }
    }
    let metrics = server.metrics().await;
    let mut labels: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("http_server_request_duration_seconds_count{"))
        .filter_map(|l| l.split("http_request_method=\"").nth(1)?.split('"').next())
        .collect();
    labels.sort_unstable();
    labels.dedup();
    for label in &labels {
        assert!(
            ["GET", "HEAD", "POST", "OPTIONS", "_OTHER"].contains(label),
            "method label {label} on the page: {labels:?}"
        );
    }
    // The documentation pages are served to GET and HEAD only.
    let served_docs = r#"http_response_status_code="200",http_route="/docs""#;
    for line in metrics.lines().filter(|l| l.contains(served_docs)) {
        assert!(
            line.contains(r#"method="GET""#) || line.contains(r#"method="HEAD""#),
            "{line}"
        );
    }
}
