//! The published OpenAPI documents and Swagger UI pages, with the configured ranges and the
//! examples written in.

use poem::endpoint::make_sync;
use poem::{Response, Route, get};
use poem_openapi::{OpenApi, OpenApiService};
use serde_json::{Value, json};

use crate::api::Annotations;

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
                format!("{prefix}/{SPEC_SEGMENT}"),
                // GET (and HEAD) only: any other method is a 405, not the page.
                get(make_sync(move |_| {
                    Response::builder()
                        .content_type("application/json")
                        .body(spec.clone())
                })),
            )
            .at(
                format!("{prefix}/{UI_SEGMENT}"),
                get(make_sync(move |_| {
                    Response::builder()
                        .content_type("text/html; charset=utf-8")
                        .body(ui.clone())
                })),
            )
    }
}

/// The last segment of the Swagger UI page [`Docs::mount`] adds under a prefix.
const UI_SEGMENT: &str = "docs";
/// The last segment of the OpenAPI document [`Docs::mount`] adds under a prefix.
const SPEC_SEGMENT: &str = "openapi.json";

/// Whether `path` is one of the pages [`Docs::mount`] adds (`/fibonacci/docs`,
/// `/fibonacci/openapi.json`): a path parameter of the API would match them too.
pub(crate) fn is_documentation(path: &str) -> bool {
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    matches!(
        (segments.next(), segments.next(), segments.next()),
        (Some(_), Some(UI_SEGMENT | SPEC_SEGMENT), None)
    )
}

/// The document as published: paths with parameters end in `/` (the published API's form;
/// poem-openapi drops trailing slashes, and the server accepts both), and every bounded path
/// parameter is an integer with its configured range; response examples are added; the
/// withdrawn operations are left out.
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
            for withdrawn in notes.withdrawn.iter().filter(|w| w.path == path) {
                operations.remove(withdrawn.method);
            }
            for operation in operations.values_mut() {
                for example in notes.examples.iter().filter(|e| e.path == path) {
                    let responses = &mut operation["responses"][example.status.to_string()];
                    if let Some(content) = responses["content"].as_object_mut() {
                        for media in content.values_mut() {
                            media["example"] = example.value.clone();
                        }
                    }
                }
                let is_math =
                    bounds.iter().any(|b| path.starts_with(b.path_prefix)) && path.ends_with("}/");
                if is_math {
                    document_caching(operation);
                }
                let Some(params) = operation
                    .get_mut("parameters")
                    .and_then(Value::as_array_mut)
                else {
                    continue;
                };
                for param in params.iter_mut().filter(|p| p["in"] == "header") {
                    let name = param["name"].as_str().unwrap_or_default();
                    let rule = notes
                        .headers
                        .iter()
                        .find(|rule| rule.name.eq_ignore_ascii_case(name));
                    if let Some(rule) = rule {
                        param["schema"] = rule.schema.clone();
                    }
                }
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
                        param["example"] = json!(bound.example.unwrap_or(bound.maximum.min(10)));
                    }
                }
            }
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_else(|_| spec.to_owned())
}

/// A math result's answers as the middleware gives them: immutable, tagged, and `304` for a
/// client that holds the tag (see `middleware::caching`).
fn document_caching(operation: &mut Value) {
    let string = json!({"type": "string"});
    let responses = &mut operation["responses"];
    responses["200"]["headers"] = json!({
        "ETag": {"description": "Strong entity tag of the result.", "schema": string},
        "Cache-Control": {
            "description": "`public, max-age=31536000, immutable`: results never change.",
            "schema": string,
        },
    });
    responses["304"] = json!({
        "description": "Not Modified: the `If-None-Match` request header names this result's ETag.",
        "headers": {"ETag": {"schema": string}, "Cache-Control": {"schema": string}},
    });
    let if_none_match = json!({
        "name": "If-None-Match",
        "in": "header",
        "required": false,
        "description": "ETags of results the client holds; a match answers 304 without a body.",
        "schema": string,
    });
    match operation["parameters"].as_array_mut() {
        Some(params) => params.push(if_none_match),
        None => operation["parameters"] = json!([if_none_match]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documentation_paths_are_told_from_api_paths() {
        for path in [
            "/fibonacci/docs",
            "/fibonacci/openapi.json",
            "/factorial/docs/",
        ] {
            assert!(is_documentation(path), "{path}");
        }
        for path in ["/fibonacci/10/", "/docs", "/fibonacci/docs/x", "/health"] {
            assert!(!is_documentation(path), "{path}");
        }
    }

    use crate::api::ParamBound;

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
                example: None,
            },
            ParamBound {
                path_prefix: "/ackermann/",
                name: "n",
                maximum: 4,
                example: None,
            },
        ];
        let notes = Annotations {
            bounds: bounds.to_vec(),
            ..Annotations::default()
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
