//! The real `fibonacci` binary serves the front page (the stack's Traefik routes `/` to it)
//! and answers other origins on its read-only routes only.

use mathapi_testing::{RunningBinary, client};

const BINARY: &str = env!("CARGO_BIN_EXE_fibonacci");

#[tokio::test]
async fn the_service_serves_the_page_and_cors() {
    let data = tempfile::tempdir().unwrap();
    let server = RunningBinary::start(
        BINARY,
        &["--sequence-data-dir", data.path().to_str().unwrap()],
        &[],
    )
    .await;
    let http = client();
    for path in ["/", "/assets/app.js", "/assets/style.css"] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().contains_key("content-security-policy"));
    }
    let origin = "http://elsewhere.example";
    let read = http
        .get(server.url("/fibonacci/10/"))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["access-control-allow-origin"], "*");
    let write = http
        .post(server.url("/fibonacci/next"))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    assert!(!write.headers().contains_key("access-control-allow-origin"));
}
