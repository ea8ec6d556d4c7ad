//! The front page and CORS over real HTTP, in-process on a random port: what the page is
//! served with, which routes answer other origins, and that cross-origin writes change
//! nothing.

use mathapi_testing::{TestApp, assert_problem, json_of};
use reqwest::Method;
use serde_json::json;

const FOREIGN: &str = "http://elsewhere.example";

mod support;

async fn spawn() -> TestApp {
    support::spawn_app(&[]).await.0
}

/// `method path`, sent as a page on another origin would.
async fn from_elsewhere(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .header("Origin", FOREIGN)
        .send()
        .await
        .unwrap()
}

/// The preflight a browser sends before calling `path` with `method` from another origin.
async fn preflight(app: &TestApp, path: &str, method: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", FOREIGN)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "x-request-id")
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn the_page_and_its_files_are_served_with_security_headers() {
    let app = spawn().await;
    for (path, content_type, body) in [
        (
            "/",
            "text/html; charset=utf-8",
            mathapi_frontpage::INDEX_HTML.as_str(),
        ),
        (
            "/assets/style.css",
            "text/css; charset=utf-8",
            mathapi_frontpage::STYLE_CSS,
        ),
        (
            "/assets/app.js",
            "text/javascript; charset=utf-8",
            mathapi_frontpage::APP_JS,
        ),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "content-type"), Some(content_type));
        let csp = header(&response, "content-security-policy").unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        assert!(
            header(&response, "x-request-id").is_some(),
            "{path}: middleware"
        );
        assert_eq!(response.text().await.unwrap(), body);
    }
    let head = app.client.head(app.url("/")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let response = app.client.post(app.url("/")).send().await.unwrap();
    assert_problem(response, 405, None).await;
}

#[tokio::test]
async fn the_page_is_small() {
    // Measured, not timed: the three files together, uncompressed.
    let app = spawn().await;
    let mut total = 0;
    for path in ["/", "/assets/style.css", "/assets/app.js"] {
        total += app.get(path).await.bytes().await.unwrap().len();
    }
    assert!(total < 32 * 1024, "{total} bytes");
}

#[tokio::test]
async fn read_only_math_routes_answer_every_origin() {
    let app = spawn().await;
    for path in [
        "/fibonacci/10/",
        "/fibonacci/current",
        "/factorial/5/",
        "/ackermann/2/3/",
        "/fibonacci/-1/",
    ] {
        let response = from_elsewhere(&app, Method::GET, path).await;
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            header(&response, "access-control-expose-headers"),
            Some("X-Request-Id")
        );

        let preflight = preflight(&app, path, "GET").await;
        assert_eq!(preflight.status(), 204, "{path}");
        assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
        let methods = header(&preflight, "access-control-allow-methods").unwrap();
        assert!(
            methods.contains("GET") && !methods.contains("POST"),
            "{methods}"
        );
        let headers = header(&preflight, "access-control-allow-headers").unwrap();
        assert!(headers.contains("X-Request-Id"), "{headers}");
    }
    // The answer is the API's, unchanged.
    let response = from_elsewhere(&app, Method::GET, "/fibonacci/10/").await;
    assert_eq!(json_of(response).await.2, json!({"n": 10, "result": "55"}));
}

#[tokio::test]
async fn a_preflight_for_writing_to_a_math_route_is_refused() {
    let app = spawn().await;
    let preflight = preflight(&app, "/fibonacci/10/", "DELETE").await;
    assert_eq!(header(&preflight, "access-control-allow-origin"), None);
    assert_problem(preflight, 403, Some("cross_origin")).await;
}

#[tokio::test]
async fn cross_origin_sequence_writes_are_refused_and_change_nothing() {
    let app = spawn().await;
    for path in ["/fibonacci/next", "/fibonacci/previous", "/fibonacci/reset"] {
        let response = from_elsewhere(&app, Method::POST, path).await;
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        assert_problem(response, 403, Some("cross_origin")).await;
        // GET steps are off: refused whatever the origin.
        let response = from_elsewhere(&app, Method::GET, path).await;
        assert_eq!(header(&response, "access-control-allow-origin"), None);
        assert_problem(response, 405, None).await;
        let preflight = preflight(&app, path, "POST").await;
        assert_eq!(header(&preflight, "access-control-allow-origin"), None);
        assert_eq!(preflight.status(), 403, "{path}");
    }
    // A page on another port of the same host is another origin too.
    let response = app
        .client
        .post(app.url("/fibonacci/next"))
        .header(
            "Origin",
            format!("http://127.0.0.1:{}", app.address.port() + 1),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (_, _, current) = app.get_json("/fibonacci/current").await;
    assert_eq!(current, json!({"index": 0, "value": "0"}), "nothing moved");
}

#[tokio::test]
async fn same_origin_and_originless_sequence_writes_work() {
    let app = spawn().await;
    let own = format!("http://{}", app.address);
    let response = app
        .client
        .post(app.url("/fibonacci/next"))
        .header("Origin", own)
        .send()
        .await
        .unwrap();
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    assert_eq!(json_of(response).await.2, json!({"index": 1, "value": "1"}));
    let response = app
        .client
        .post(app.url("/fibonacci/next"))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response).await.2, json!({"index": 2, "value": "1"}));
}

#[tokio::test]
async fn other_routes_get_no_cors_headers() {
    let app = spawn().await;
    for path in [
        "/",
        "/docs",
        "/openapi.json",
        "/metrics",
        "/health",
        "/fibonacci/docs",
    ] {
        let response = from_elsewhere(&app, Method::GET, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "access-control-allow-origin"),
            None,
            "{path}"
        );
    }
}
