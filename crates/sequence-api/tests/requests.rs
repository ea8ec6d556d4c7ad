//! What the stepper takes from a request, over real HTTP: an `Idempotency-Key` it can use,
//! or a `400` that changes nothing (both backends, every method that steps); and `GET` steps
//! only when an operator allows them (a flag, or its environment variable in a real server
//! process).

mod support;

use mathapi_fibonacci::FibonacciApi;
use mathapi_http::{AppContext, single_api_app};
use mathapi_sequence::MAX_KEY_LEN;
use mathapi_sequence::testing::RedisServer;
use mathapi_sequence_api::{Backend, SequenceArgs, WithSequence};
use mathapi_telemetry::Metrics;
use mathapi_testing::{TestApp, json_of};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

async fn spawn(sequence: SequenceArgs) -> TestApp {
    let metrics = Metrics::new("fibonacci").unwrap();
    let fibonacci = FibonacciApi::with_maxima([400], &metrics);
    let api = WithSequence::open(fibonacci, &sequence, &metrics).unwrap();
    TestApp::spawn(single_api_app(
        api,
        &AppContext::with_default_cache(&metrics),
    ))
    .await
}

fn with_get_steps(sequence: SequenceArgs) -> SequenceArgs {
    SequenceArgs {
        unsafe_get_steps: true,
        ..sequence
    }
}

/// `method /fibonacci/{operation}` with an `Idempotency-Key` header per entry of `keys`,
/// sent as raw bytes.
async fn send(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    keys: &[&[u8]],
) -> (u16, HeaderMap, Value) {
    let mut request = client.request(method.parse().unwrap(), url);
    for key in keys {
        request = request.header("Idempotency-Key", HeaderValue::from_bytes(key).unwrap());
    }
    let response = request.send().await.unwrap();
    let headers = response.headers().clone();
    let (status, _, body) = json_of(response).await;
    (status, headers, body)
}

async fn step(app: &TestApp, method: &str, keys: &[&[u8]]) -> (u16, Value) {
    let (status, _, body) = send(&app.client, &app.url("/fibonacci/next"), method, keys).await;
    (status, body)
}

async fn index(app: &TestApp) -> u64 {
    let (status, _, body) = app.get_json("/fibonacci/current").await;
    assert_eq!(status, 200, "{body}");
    body["index"].as_u64().unwrap()
}

/// Keys the server cannot use: outside visible ASCII (UTF-8 text, lone bytes 0x80–0xFF),
/// outside the documented set (a space), too long.
fn unusable_keys() -> Vec<Vec<u8>> {
    vec![
        "café-retry-1".into(),
        "ключ".into(),
        vec![0x80],
        vec![0xFF],
        b"retry-\xe9-1".to_vec(),
        b"x y".to_vec(),
        vec![b'x'; MAX_KEY_LEN + 1],
    ]
}

/// Every unusable key (each sent twice, as a retry would) and a doubled header get `400`,
/// and the sequence does not move.
async fn assert_unusable_keys_change_nothing(app: &TestApp, method: &str) {
    let before = index(app).await;
    for key in unusable_keys() {
        for attempt in 0..2 {
            let (status, body) = step(app, method, &[&key]).await;
            assert_eq!(
                (status, body["reason"].as_str()),
                (400, Some("invalid_idempotency_key")),
                "{method} {key:?} (attempt {attempt}): {body}"
            );
        }
    }
    let (status, body) = step(app, method, &[b"one", b"two"]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    assert_eq!(
        index(app).await,
        before,
        "{method}: an unusable key stepped"
    );
    // A usable key still works, once.
    for _ in 0..2 {
        let (status, body) = step(app, method, &[format!("ok-{method}").as_bytes()]).await;
        assert_eq!((status, body["index"].as_u64()), (200, Some(before + 1)));
    }
}

#[tokio::test]
async fn unusable_idempotency_keys_are_refused_by_the_embedded_store() {
    let data = tempfile::tempdir().unwrap();
    let app = spawn(with_get_steps(SequenceArgs::embedded(data.path()))).await;
    assert_unusable_keys_change_nothing(&app, "POST").await;
    assert_unusable_keys_change_nothing(&app, "GET").await;
}

#[tokio::test]
async fn unusable_idempotency_keys_are_refused_by_redis() {
    let redis = RedisServer::start();
    let app = spawn(with_get_steps(SequenceArgs {
        backend: Backend::Redis,
        redis_url: redis.url(),
        ..SequenceArgs::embedded("unused")
    }))
    .await;
    assert_unusable_keys_change_nothing(&app, "POST").await;
    assert_unusable_keys_change_nothing(&app, "GET").await;
}

#[tokio::test]
async fn get_does_not_step_by_default_and_is_not_published() {
    let data = tempfile::tempdir().unwrap();
    let app = spawn(SequenceArgs::embedded(data.path())).await;
    assert_eq!(step(&app, "POST", &[]).await.0, 200);
    for operation in ["next", "previous", "reset"] {
        let url = app.url(&format!("/fibonacci/{operation}"));
        let (status, headers, body) = send(&app.client, &url, "GET", &[b"k"]).await;
        assert_eq!(status, 405, "GET {operation}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("POST"), "{body}");
        assert_eq!(headers["allow"], "POST, OPTIONS", "GET {operation}");
        let (status, headers, _) = send(&app.client, &url, "OPTIONS", &[]).await;
        assert_eq!(
            (status, &headers["allow"]),
            (204, &"POST, OPTIONS".parse().unwrap())
        );
    }
    assert_eq!(index(&app).await, 1, "a GET moved the sequence");
    let (_, _, doc) = app.get_json("/fibonacci/openapi.json").await;
    for operation in ["next", "previous", "reset"] {
        let item = &doc["paths"][format!("/fibonacci/{operation}")];
        assert!(item.get("post").is_some(), "{item}");
        assert!(
            item.get("get").is_none(),
            "GET {operation} published: {item}"
        );
    }
}

#[tokio::test]
async fn an_operator_may_allow_get_steps_which_honour_keys_as_post_does() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = support::start_server(
        &["--sequence-data-dir", dir],
        &[("MATHAPI_SEQUENCE_UNSAFE_GET_STEPS", "true")],
    )
    .await;
    let client = mathapi_testing::client();
    let next = server.url("/fibonacci/next");
    for _ in 0..3 {
        let (status, _, body) = send(&client, &next, "GET", &[b"get-retry"]).await;
        assert_eq!((status, body["index"].as_u64()), (200, Some(1)), "{body}");
    }
    let (status, _, body) = send(&client, &next, "POST", &[b"get-retry"]).await;
    assert_eq!((status, body["index"].as_u64()), (200, Some(1)), "{body}");
    let (status, _, body) = send(&client, &next, "GET", &[b"x y"]).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (400, Some("invalid_idempotency_key"))
    );
    let (status, _, body) = send(&client, &next, "GET", &[]).await;
    assert_eq!((status, body["index"].as_u64()), (200, Some(2)), "{body}");

    let (_, headers, _) = send(&client, &next, "OPTIONS", &[]).await;
    assert!(
        headers["allow"].to_str().unwrap().contains("GET"),
        "{headers:?}"
    );
    // GET steps, so HEAD (which would be served as GET) is refused and moves nothing.
    let head = client.head(&next).send().await.unwrap();
    assert_eq!(head.status(), 405);
    let allow = head.headers()["allow"].to_str().unwrap();
    assert!(!allow.contains("HEAD"), "{allow}");
    let (_, _, body) = send(&client, &server.url("/fibonacci/current"), "GET", &[]).await;
    assert_eq!(body["index"].as_u64(), Some(2), "{body}");
    let (_, _, doc) = send(&client, &server.url("/fibonacci/openapi.json"), "GET", &[]).await;
    let get = &doc["paths"]["/fibonacci/next"]["get"];
    assert_eq!(get["deprecated"], true, "{get}");
    assert_eq!(get["parameters"][0]["name"], "Idempotency-Key", "{get}");
}

/// The server process of the tests above that need one (see `support`).
#[test]
fn server_child() {
    support::serve_if_child();
}
