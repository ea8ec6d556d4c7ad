//! The README's quick start against the real `mathapi` binary at its defaults: every
//! `curl` shown there gets the status, headers and body the README prints under it. The
//! expectations are read from README.md, so the README cannot drift from the server.

use mathapi_testing::{RunningBinary, client};
use serde_json::{Map, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_mathapi");
const README: &str = include_str!("../../../README.md");
/// Where the README's examples send their requests (`make run`).
const README_ORIGIN: &str = "http://127.0.0.1:8000";

/// One `curl` of the quick start and what the README says it prints.
#[derive(Debug, Default)]
struct Example {
    path: String,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    /// The body's fields as printed; `...` at the end of the object means "and others".
    body: Map<String, Value>,
}

/// The `curl` examples of the README's first shell block.
fn quick_start_examples() -> Vec<Example> {
    let block = README
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a shell block in the README");
    let mut examples: Vec<Example> = Vec::new();
    for line in block.lines() {
        if let Some(url) = line
            .split_whitespace()
            .find(|w| w.starts_with(README_ORIGIN))
        {
            if line.starts_with("curl ") {
                examples.push(Example {
                    path: url[README_ORIGIN.len()..].to_owned(),
                    ..Example::default()
                });
            }
            continue;
        }
        let (Some(example), Some(printed)) = (examples.last_mut(), line.strip_prefix("# ")) else {
            continue;
        };
        if let Some(status) = printed.strip_prefix("HTTP/1.1 ") {
            example.status = Some(status[..3].parse().unwrap());
        } else if printed.starts_with('{') {
            let json = printed.replace(",...}", "}");
            example.body = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("README body {printed:?} is not JSON: {e}"));
        } else if let Some((name, value)) = printed.split_once(": ") {
            example.headers.push((name.to_owned(), value.to_owned()));
        }
    }
    examples
}

#[tokio::test]
async fn the_quick_start_answers_are_the_readmes() {
    let examples = quick_start_examples();
    // The README shows an answer and an error; an empty list would check nothing.
    assert!(
        examples
            .iter()
            .any(|e| e.path == "/fibonacci/abc/" && e.status == Some(400)),
        "{examples:#?}"
    );
    assert!(examples.iter().all(|e| !e.body.is_empty()), "{examples:#?}");
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let server = RunningBinary::start(BINARY, &["--sequence-data-dir", dir], &[]).await;
    for example in &examples {
        let response = client()
            .get(server.url(&example.path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status().as_u16(),
            example.status.unwrap_or(200),
            "{}",
            example.path
        );
        for (name, value) in &example.headers {
            assert_eq!(response.headers()[name.as_str()], value.as_str(), "{name}");
        }
        let body: Map<String, Value> = response.json().await.unwrap();
        for (key, value) in &example.body {
            assert_eq!(body.get(key), Some(value), "{}: {key}", example.path);
        }
    }
}
