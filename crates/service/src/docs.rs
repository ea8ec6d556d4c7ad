//! OpenAPI documents and Swagger UI pages, with the configured ranges written in.

use std::sync::Arc;

use poem::endpoint::make_sync;
use poem::{Response, Route};
use poem_openapi::{OpenApi, OpenApiService};
use serde_json::{Value, json};

use crate::ops::Readiness;

/// One math API, as the servers mount it.
pub trait MathApi: OpenApi + Clone + Send + Sync + 'static {
    /// Its name, which is also its path prefix: `fibonacci` serves `/fibonacci/...`.
    const NAME: &'static str;
    /// Title of its OpenAPI document.
    const TITLE: &'static str;
    /// What it computes, for its OpenAPI document (Markdown).
    const DESCRIPTION: &'static str;
    /// The port its own binary listens on by default.
    const DEFAULT_PORT: u16;

    /// The configured range of each path parameter, stated in the OpenAPI document.
    fn bounds(&self) -> Vec<ParamBound>;

    /// Example answers for its OpenAPI document.
    fn examples(&self) -> Vec<ResponseExample> {
        Vec::new()
    }

    /// Its bounds and examples, as its OpenAPI document states them.
    fn annotations(&self) -> Annotations {
        Annotations {
            bounds: self.bounds(),
            examples: self.examples(),
        }
    }

    /// Dependencies that must be reachable for `/ready` to succeed.
    fn readiness(&self) -> Vec<Arc<dyn Readiness>> {
        Vec::new()
    }
}

/// A path parameter's range: `name` in paths starting with `path_prefix` is `0..=maximum`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamBound {
    pub path_prefix: &'static str,
    pub name: &'static str,
    pub maximum: u64,
}

/// An example answer of an operation, shown in its OpenAPI document (poem-openapi gives
/// examples per schema only, and one schema, `Problem`, serves every error status).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseExample {
    /// The published path, e.g. `/fibonacci/next`; every method on it gets the example.
    pub path: &'static str,
    pub status: u16,
    pub value: Value,
}

/// What the published document adds to the generated one.
#[derive(Debug, Clone, Default)]
pub struct Annotations {
    pub bounds: Vec<ParamBound>,
    pub examples: Vec<ResponseExample>,
}

/// The OpenAPI document and Swagger UI page of one API (or of several combined).
#[derive(Debug, Clone)]
pub struct Docs {
    /// The OpenAPI 3 document, JSON.
    pub spec: String,
    /// The Swagger UI page, with the document embedded.
    pub ui: String,
}

impl Docs {
    pub fn new<T: OpenApi>(service: &OpenApiService<T, ()>, notes: &Annotations) -> Self {
        let generated = service.spec();
        let spec = published(&generated, notes);
        // The operations take raw path segments so that bad input gets our problem documents
        // rather than poem-openapi's plain-text errors; the document must still say integer,
        // with the ranges configured at start-up. poem-openapi embeds the document verbatim
        // in its Swagger UI page, so the page gets the same replacement.
        let ui = service.swagger_ui_html().replace(&generated, &spec);
        Docs { spec, ui }
    }

    /// Serves the document at `{prefix}/openapi.json` and the UI at `{prefix}/docs`.
    pub fn mount(self, route: Route, prefix: &str) -> Route {
        let spec = bytes::Bytes::from(self.spec);
        let ui = bytes::Bytes::from(self.ui);
        route
            .at(
                format!("{prefix}/openapi.json"),
                make_sync(move |_| {
                    Response::builder()
                        .content_type("application/json")
                        .body(spec.clone())
                }),
            )
            .at(
                format!("{prefix}/docs"),
                make_sync(move |_| {
                    Response::builder()
                        .content_type("text/html; charset=utf-8")
                        .body(ui.clone())
                }),
            )
    }
}

/// The document as published: paths with parameters end in `/` (the published API's form;
/// poem-openapi drops trailing slashes, and the server accepts both), and every bounded path
/// parameter is an integer with its configured range; response examples are added.
fn published(spec: &str, notes: &Annotations) -> String {
    let bounds = &notes.bounds;
    let Ok(mut doc) = serde_json::from_str::<Value>(spec) else {
        return spec.to_owned();
    };
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        *paths = std::mem::take(paths)
            .into_iter()
            .map(|(path, item)| match path.ends_with('}') {
                true => (format!("{path}/"), item),
                false => (path, item),
            })
            .collect();
        for (path, item) in paths.iter_mut() {
            let Some(operations) = item.as_object_mut() else {
                continue;
            };
            for operation in operations.values_mut() {
                for example in notes.examples.iter().filter(|e| e.path == path) {
                    let responses = &mut operation["responses"][example.status.to_string()];
                    if let Some(content) = responses["content"].as_object_mut() {
                        for media in content.values_mut() {
                            media["example"] = example.value.clone();
                        }
                    }
                }
                let Some(params) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for param in params.iter_mut().filter(|p| p["in"] == "path") {
                    let bound = bounds
                        .iter()
                        .find(|b| path.starts_with(b.path_prefix) && param["name"] == b.name);
                    if let Some(bound) = bound {
                        param["schema"] = json!({
                            "type": "integer",
                            "format": "int64",
                            "minimum": 0,
                            "maximum": bound.maximum,
                        });
                        param["example"] = json!(bound.maximum.min(10));
                    }
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_trailing_slashes_are_published() {
        let spec = json!({"paths": {
            "/fibonacci/{n}": {"get": {"parameters": [{"name": "n", "in": "path", "schema": {"type": "string"}}]}},
            "/ackermann/{m}/{n}": {"get": {"parameters": [
                {"name": "m", "in": "path", "schema": {"type": "string"}},
                {"name": "n", "in": "path", "schema": {"type": "string"}}]}}
        }});
        let bounds = [
            ParamBound {
                path_prefix: "/fibonacci/",
                name: "n",
                maximum: 400,
            },
            ParamBound {
                path_prefix: "/ackermann/",
                name: "n",
                maximum: 4,
            },
        ];
        let notes = Annotations {
            bounds: bounds.to_vec(),
            examples: Vec::new(),
        };
        let out: Value = serde_json::from_str(&published(&spec.to_string(), &notes)).unwrap();
        let fib = &out["paths"]["/fibonacci/{n}/"]["get"]["parameters"][0]["schema"];
        assert_eq!(fib["maximum"], 400);
        assert_eq!(fib["type"], "integer");
        let ack = &out["paths"]["/ackermann/{m}/{n}/"]["get"]["parameters"];
        assert_eq!(ack[0]["schema"]["type"], "string", "m has no bound here");
        assert_eq!(ack[1]["schema"]["maximum"], 4);
    }
}
