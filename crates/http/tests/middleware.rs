//! The shared middleware over real HTTP: panics, request ids, 404/405 as problem documents.

use mathapi_http::{AppContext, RenderCache, RouteTemplates, with_middleware};
use mathapi_telemetry::Metrics;
use mathapi_testing::{TestApp, assert_problem};
use poem::{Route, get, handler, post};

#[handler]
fn boom() -> &'static str {
    panic!("deliberate test panic")
}

#[handler]
fn hello() -> &'static str {
    "hello"
}

async fn spawn() -> (TestApp, Metrics) {
    let metrics = Metrics::new("test").unwrap();
    let route = Route::new()
        .at("/boom", get(boom))
        .at("/hello", get(hello))
        .at("/post-only", post(hello));
    let context = AppContext::new(&metrics, RenderCache::new(0, &metrics));
    let app = TestApp::spawn(with_middleware(route, RouteTemplates::default(), &context)).await;
    (app, metrics)
}

#[tokio::test]
async fn a_panic_becomes_a_500_problem_and_the_server_keeps_serving() {
    let (app, metrics) = spawn().await;
    for _ in 0..3 {
        let body = assert_problem(app.get("/boom").await, 500, None).await;
        assert!(
            body["detail"].as_str().unwrap().contains("internal error"),
            "{body}"
        );
        assert!(
            !body.to_string().contains("deliberate"),
            "panic messages are not sent to clients"
        );
        let ok = app.get("/hello").await;
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), "hello");
    }
    assert!(
        metrics
            .render()
            .contains(r#"http_response_status_code="500""#)
    );
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_problem_documents() {
    let (app, metrics) = spawn().await;
    let body = assert_problem(app.get("/nowhere").await, 404, None).await;
    assert_eq!(body["instance"], "/nowhere");
    let response = app.client.delete(app.url("/hello")).send().await.unwrap();
    let body = assert_problem(response, 405, None).await;
    assert_eq!(body["detail"], "DELETE is not allowed on /hello");
    let rendered = metrics.render();
    let not_found = rendered
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_count") && l.contains("\"404\"")
        })
        .unwrap();
    assert!(
        !not_found.contains("http_route"),
        "unmatched requests carry no route label: {not_found}"
    );
    assert!(
        !rendered.contains("/nowhere"),
        "raw paths never become labels"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let (app, _) = spawn().await;
    let echoed = app
        .client
        .get(app.url("/hello"))
        .header("X-Request-Id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");

    let generated = app.get("/hello").await;
    let id = generated.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(id.chars().filter(|c| *c == '-').count(), 4, "{id}");

    // Ids that would corrupt logs are replaced, not echoed.
    for bad in ["has space", &"x".repeat(129)] {
        let response = app
            .client
            .get(app.url("/hello"))
            .header("X-Request-Id", bad)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, bad);
        assert_eq!(id.len(), 36);
    }
    // Errors carry the id too.
    let missing = app
        .client
        .get(app.url("/nowhere"))
        .header("X-Request-Id", "err-1")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.headers()["x-request-id"], "err-1");
}
