//! The all-in-one server and the sequence: `/ready` does not depend on the sequence's
//! storage (it serves only the stepper), and the combined document lists each operation
//! once.

use mathapi_testing::{TestApp, assert_problem};

mod support;

async fn spawn(flags: &[&str]) -> TestApp {
    support::spawn_app(flags).await.0
}

#[tokio::test]
async fn ready_does_not_depend_on_the_sequences_storage() {
    // A Redis nobody listens on: the all-in-one is ready all the same, every function
    // answers, and only the stepper refuses.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let app = spawn(&["--sequence-backend", "redis", "--redis-url", &url]).await;
    assert_eq!(app.get("/ready").await.status(), 200);
    for path in ["/fibonacci/10/", "/factorial/5/", "/ackermann/2/3/"] {
        assert_eq!(app.get(path).await.status(), 200, "{path}");
    }
    assert_problem(
        app.get("/fibonacci/current").await,
        503,
        Some("storage_unavailable"),
    )
    .await;
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test]
async fn the_combined_document_lists_each_operation_once() {
    let app = spawn(&[]).await;
    let (_, _, doc) = app.get_json("/openapi.json").await;
    let mut sequence_operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let tags = operation["tags"].as_array().unwrap();
            assert_eq!(tags.len(), 1, "{method} {path}: {tags:?}");
            if tags[0] == "Sequence" {
                assert!(path.starts_with("/fibonacci/"), "{path}");
                sequence_operations += 1;
            }
        }
    }
    // current; next, previous and reset by POST (the GET steps are off by default).
    assert_eq!(sequence_operations, 4);
}

#[tokio::test]
async fn the_documents_state_what_an_idempotency_key_may_be() {
    let app = spawn(&[]).await;
    for (document, path) in [
        ("/openapi.json", "/fibonacci/next"),
        ("/fibonacci/openapi.json", "/fibonacci/reset"),
    ] {
        let (status, _, doc) = app.get_json(document).await;
        assert_eq!(status, 200);
        let params = doc["paths"][path]["post"]["parameters"].as_array().unwrap();
        let key = params
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .unwrap_or_else(|| panic!("{document} {path}: no Idempotency-Key"));
        assert_eq!(key["in"], "header");
        assert_eq!(key["schema"]["pattern"], "^[ \\t]*[!-~]{1,255}[ \\t]*$");
    }
    // What the document allows is accepted (surrounding whitespace is not part of a header
    // value), and what it does not is refused.
    let spaced = app
        .client
        .post(app.url("/fibonacci/next"))
        .header("Idempotency-Key", " spaced-key ")
        .send()
        .await
        .unwrap();
    assert_eq!(spaced.status(), 200);
    let ok = app
        .client
        .post(app.url("/fibonacci/next"))
        .header("Idempotency-Key", "~!azAZ09-key")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = app
        .client
        .post(app.url("/fibonacci/next"))
        .header("Idempotency-Key", "has space")
        .send()
        .await
        .unwrap();
    assert_problem(refused, 400, Some("invalid_idempotency_key")).await;
}
