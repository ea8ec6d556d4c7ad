//! The middleware every request passes through: request id, request span, metrics, and
//! the mapping of every error (404, 405, panics, ...) to a problem document.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response};
use tracing::Instrument;
use tracing::field::Empty;

use crate::problem::Problem;
use crate::telemetry::Metrics;

/// The request-id header, read from requests and set on every response.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest client-supplied request id we keep; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The client's request id when it is safe to log and echo, a new UUID v4 otherwise.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=MAX_REQUEST_ID_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Route templates as published in the OpenAPI document, by poem's route pattern.
///
/// poem-openapi registers `/ackermann/{m}/{n}/` as `/ackermann/:param0/:param1`; metrics and
/// logs must name the route as the document does.
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates(HashMap<String, String>);

impl RouteTemplates {
    /// Reads the path templates of an OpenAPI document (JSON).
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let Some(paths) = doc["paths"].as_object() else {
            return RouteTemplates::default();
        };
        let by_pattern = paths
            .keys()
            .map(|template| {
                let mut index = 0;
                let segments: Vec<String> = template
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(|s| match s.starts_with('{') {
                        true => {
                            index += 1;
                            format!(":param{}", index - 1)
                        }
                        false => s.to_owned(),
                    })
                    .collect();
                (format!("/{}", segments.join("/")), template.clone())
            })
            .collect();
        RouteTemplates(by_pattern)
    }

    /// The template for poem's `pattern`; `None` when no route matched.
    fn template(&self, pattern: &str) -> Option<String> {
        if pattern.is_empty() {
            return None;
        }
        if let Some(template) = self.0.get(pattern) {
            return Some(template.clone());
        }
        if pattern.contains(":param") {
            // A hidden route that is a prefix of a published one (`/ackermann/:param0`,
            // which answers "n is missing") takes its parameter names from that route.
            let prefix = format!("{pattern}/");
            let depth = pattern.split('/').count();
            if let Some(template) = self
                .0
                .iter()
                .find(|(p, _)| p.starts_with(&prefix))
                .map(|(_, t)| t)
            {
                return Some(
                    template
                        .split('/')
                        .take(depth)
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
        route_template(pattern)
    }
}

/// poem's route pattern (`/fibonacci/:n`) in OpenAPI/semantic-convention form
/// (`/fibonacci/{n}`); `None` when no route matched.
fn route_template(pattern: &str) -> Option<String> {
    if pattern.is_empty() {
        return None;
    }
    let segments: Vec<String> = pattern
        .split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => s.to_owned(),
        })
        .collect();
    Some(segments.join("/"))
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload")
}

/// Request id, request span, HTTP metrics and problem documents for all errors.
pub struct Observe {
    metrics: Metrics,
    routes: Arc<RouteTemplates>,
}

impl Observe {
    pub fn new(metrics: Metrics, routes: RouteTemplates) -> Self {
        Observe {
            metrics,
            routes: Arc::new(routes),
        }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
            routes: self.routes.clone(),
        }
    }
}

/// The endpoint [`Observe`] wraps around the routes.
pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Metrics,
    routes: Arc<RouteTemplates>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let request_id = request_id(&req);
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let span = tracing::info_span!(
            "http_request",
            request_id = %request_id,
            http_method = %method,
            url_path = %path,
            http_route = Empty,
            http_status = Empty,
            latency_ms = Empty,
            function = Empty,
            arguments = Empty,
        );
        self.metrics.request_started(method.as_str());

        let outcome = AssertUnwindSafe(self.inner.call(req).instrument(span.clone()))
            .catch_unwind()
            .await;
        let mut response = match outcome {
            Ok(Ok(output)) => output.into_response(),
            Ok(Err(error)) if error.is_from_response() => error.into_response(),
            Ok(Err(error)) => {
                let pattern = error.data::<PathPattern>().cloned();
                let status = error.status();
                let detail = match status {
                    StatusCode::NOT_FOUND => format!("no route matches {path}"),
                    StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
                    s if s.is_server_error() => {
                        tracing::error!(parent: &span, detail = %error, "request failed");
                        format!("internal error (request id {request_id})")
                    }
                    _ => error.to_string(),
                };
                let mut response = Problem::from_status(status, detail)
                    .with_instance(path.clone())
                    .into_response();
                if let Some(pattern) = pattern {
                    response.set_data(pattern);
                }
                response
            }
            Err(panic) => {
                tracing::error!(parent: &span, panic = panic_message(&*panic), "handler panicked");
                Problem::from_status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("internal error (request id {request_id})"),
                )
                .with_instance(path.clone())
                .into_response()
            }
        };

        let route = response
            .data::<PathPattern>()
            .and_then(|p| self.routes.template(&p.0));
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        if let Some(route) = &route {
            span.record("http_route", route.as_str());
        }
        span.record("http_status", status);
        // Microsecond precision is all a latency needs, and keeps the number short.
        span.record("latency_ms", elapsed.as_micros() as f64 / 1e3);
        self.metrics
            .request_finished(method.as_str(), route.as_deref(), status, elapsed);
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_templates_use_braces() {
        assert_eq!(
            route_template("/ackermann/:m/:n/").as_deref(),
            Some("/ackermann/{m}/{n}/")
        );
        assert_eq!(route_template("/health").as_deref(), Some("/health"));
        assert_eq!(route_template(""), None);
    }

    #[test]
    fn published_templates_replace_poem_openapi_parameter_names() {
        let spec = r#"{"paths": {"/ackermann/{m}/{n}/": {}, "/health": {}}}"#;
        let routes = RouteTemplates::from_spec(spec);
        assert_eq!(
            routes.template("/ackermann/:param0/:param1").as_deref(),
            Some("/ackermann/{m}/{n}/")
        );
        assert_eq!(routes.template("/health").as_deref(), Some("/health"));
        assert_eq!(
            routes.template("/fibonacci/docs").as_deref(),
            Some("/fibonacci/docs")
        );
        assert_eq!(
            routes.template("/ackermann/:param0").as_deref(),
            Some("/ackermann/{m}")
        );
        assert_eq!(routes.template(""), None);
    }
}
