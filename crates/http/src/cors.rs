//! Cross-origin access: the read-only math routes are public, the stepper's writes are not
//! ([`MathCors`] says how).

use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use crate::problem::Problem;

/// Methods a cross-origin caller may use on the read-only routes.
pub const ALLOWED_METHODS: &str = "GET, HEAD, OPTIONS";
/// Request headers a cross-origin caller may send to the read-only routes.
pub const ALLOWED_HEADERS: &str = "Accept, Content-Type, X-Request-Id";
/// How long (seconds) a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: &str = "86400";

/// What a path is, for cross-origin purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A read-only math route: open to every origin.
    PublicRead,
    /// A state-changing route (the sequence's steps): same origin only, enforced.
    SameOriginWrite,
    /// Anything else: no CORS headers, the browser's same-origin default applies.
    Other,
}

/// Which routes are which, read from the published OpenAPI document: no route is named by
/// hand, so a new function's routes are public the moment its API publishes them.
///
/// - A published path under a prefix (`/{name}/...`) whose operations are all reads (`GET`)
///   is [`Access::PublicRead`]: the functions' routes, the sequence's `current`.
/// - A published path under a prefix with a `POST` operation changes state:
///   [`Access::SameOriginWrite`], whatever the request's method (the deprecated `GET` steps
///   too).
/// - Top-level paths (`/health`, `/ready`, `/metrics`), the documents (`/{name}/docs`,
///   `/{name}/openapi.json`) and everything unpublished are [`Access::Other`].
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    /// Each published route's segments (`{m}` for a parameter) and its access.
    routes: Vec<(Vec<String>, Access)>,
}

/// The last segments of the documents [`crate::Docs::mount`] publishes under a prefix.
const DOCUMENT_SEGMENTS: [&str; 2] = ["docs", "openapi.json"];

impl AccessTable {
    /// The table of an OpenAPI document (JSON); empty when it has no paths.
    pub fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let Some(paths) = doc["paths"].as_object() else {
            return AccessTable::default();
        };
        let routes = paths
            .iter()
            .filter_map(|(template, item)| {
                let segments = segments(template);
                if segments.len() < 2 {
                    return None;
                }
                let access = if item.get("post").is_some() {
                    Access::SameOriginWrite
                } else if item.get("get").is_some() {
                    Access::PublicRead
                } else {
                    Access::Other
                };
                Some((segments.into_iter().map(str::to_owned).collect(), access))
            })
            .collect();
        AccessTable { routes }
    }

    /// Classifies a request path (with or without its trailing slash): the access of the
    /// published route it matches, the most literal one when several do (`/fibonacci/next`
    /// over `/fibonacci/{n}/`).
    pub fn access(&self, path: &str) -> Access {
        let path = segments(path);
        if let [_, last] = path.as_slice()
            && DOCUMENT_SEGMENTS.contains(last)
        {
            return Access::Other;
        }
        self.routes
            .iter()
            .filter(|(route, _)| matches(route, &path))
            .max_by_key(|(route, _)| route.iter().filter(|s| !is_parameter(s)).count())
            .map_or(Access::Other, |(_, access)| *access)
    }
}

/// A path's segments between its outer slashes: `/fibonacci/10/` is `["fibonacci", "10"]`;
/// an empty segment inside (`/fibonacci//10`) stays, and matches no route.
fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

fn is_parameter(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

fn matches(route: &[String], path: &[&str]) -> bool {
    route.len() == path.len()
        && route.iter().zip(path).all(|(route, segment)| {
            !segment.is_empty() && (is_parameter(route) || route == segment)
        })
}

/// Cross-origin access: the read-only math routes are public, the stepper's writes are not.
///
/// Which routes are which comes from the published document (`AccessTable`):
///
/// - The read-only routes (every function's `GET /{name}/{p1}/.../`, the sequence's
///   `/fibonacci/current`) answer every origin with `Access-Control-Allow-Origin: *`, and
///   their preflight (`OPTIONS` with `Access-Control-Request-Method: GET`) gets `204`.
/// - The state-changing routes (`/fibonacci/next`, `previous`, `reset`, by POST or the
///   deprecated GET) refuse any request whose `Origin` is not the server's own with `403`
///   and a problem document, preflight included. A missing CORS header alone would not be
///   enough: a body-less cross-origin POST is a "simple" request that browsers send without
///   preflight, so the step would happen even though the page could not read the answer.
/// - Every other route (the page, docs, `/metrics`) is left alone: same-origin only.
///
/// Why not `poem::middleware::Cors`: it echoes the request's `Origin` (with `Vary: Origin`,
/// one cache entry per origin) where a public, credential-free API answers `*`, it answers
/// preflights with `200`, and it applies one policy to a whole endpoint, while here the
/// policy depends on the route.
#[derive(Debug, Clone, Default)]
pub struct MathCors {
    table: Arc<AccessTable>,
}

impl MathCors {
    /// The policy of the routes an OpenAPI document (JSON) publishes.
    pub fn from_spec(spec: &str) -> Self {
        MathCors {
            table: Arc::new(AccessTable::from_spec(spec)),
        }
    }
}

impl<E: Endpoint> Middleware<E> for MathCors {
    type Output = MathCorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        MathCorsEndpoint {
            inner,
            table: self.table.clone(),
        }
    }
}

/// The endpoint [`MathCors`] wraps around the routes.
pub struct MathCorsEndpoint<E> {
    inner: E,
    table: Arc<AccessTable>,
}

impl<E: Endpoint> Endpoint for MathCorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match self.table.access(req.uri().path()) {
            Access::PublicRead if is_preflight(&req) => Ok(preflight(&req)),
            Access::PublicRead => {
                // Refusals (400) carry CORS headers too, so other origins can read the
                // problem document; errors the outer middleware turns into problem
                // documents (404, 405, panics) pass through as errors.
                let mut response = match self.inner.call(req).await {
                    Ok(output) => output.into_response(),
                    Err(error) if error.is_from_response() => error.into_response(),
                    Err(error) => return Err(error),
                };
                let headers = response.headers_mut();
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("X-Request-Id"),
                );
                Ok(response)
            }
            Access::SameOriginWrite if is_cross_origin(&req) => Ok(Problem::typed(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "Cross-origin request refused",
                "the sequence stepper changes shared state and accepts requests only from its own origin",
            )
            .into_response()),
            _ => Ok(self.inner.call(req).await?.into_response()),
        }
    }
}

/// A CORS preflight: `OPTIONS` with `Origin` and `Access-Control-Request-Method`.
fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// `204` allowing GET/HEAD from any origin; a preflight for any other method is refused.
fn preflight(req: &Request) -> Response {
    let method = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !matches!(method, "GET" | "HEAD") {
        return Problem::typed(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "Cross-origin request refused",
            "this route is read-only: cross-origin callers may use GET and HEAD only",
        )
        .into_response();
    }
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOWED_METHODS)
        .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS)
        .header(header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE)
        .finish()
}

/// True when the request names an `Origin` other than the host it was sent to. Requests
/// without `Origin` (curl, the CLI, same-origin GETs) are not cross-origin.
fn is_cross_origin(req: &Request) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return false;
    };
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let authority = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    match (authority, host) {
        (Some(authority), Some(host)) => !authority.eq_ignore_ascii_case(host),
        // `Origin: null` (sandboxed frames, file://) or no Host: not provably ours.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The paths of the all-in-one's document, as the APIs publish them.
    const SPEC: &str = r#"{"paths": {
        "/fibonacci/{n}/": {"get": {}}, "/factorial/{n}/": {"get": {}},
        "/ackermann/{m}/{n}/": {"get": {}}, "/fibonacci/current": {"get": {}},
        "/fibonacci/next": {"get": {}, "post": {}}, "/fibonacci/previous": {"get": {}, "post": {}},
        "/fibonacci/reset": {"get": {}, "post": {}},
        "/health": {"get": {}}, "/ready": {"get": {}}, "/metrics": {"get": {}}}}"#;

    fn access(path: &str) -> Access {
        AccessTable::from_spec(SPEC).access(path)
    }

    #[test]
    fn a_newly_published_function_is_public_with_no_other_change() {
        let table = AccessTable::from_spec(r#"{"paths": {"/square/{n}/": {"get": {}}}}"#);
        assert_eq!(table.access("/square/7/"), Access::PublicRead);
        assert_eq!(table.access("/square/docs"), Access::Other);
        assert_eq!(table.access("/fibonacci/7/"), Access::Other);
    }

    #[test]
    fn classifies_routes() {
        for path in [
            "/fibonacci/10/",
            "/fibonacci/10",
            "/fibonacci/current",
            "/fibonacci/abc",
            "/factorial/5/",
            "/ackermann/2/3/",
            "/ackermann/2/3",
        ] {
            assert_eq!(access(path), Access::PublicRead, "{path}");
        }
        for path in [
            "/fibonacci/next",
            "/fibonacci/previous/",
            "/fibonacci/reset",
        ] {
            assert_eq!(access(path), Access::SameOriginWrite, "{path}");
        }
        for path in [
            "/",
            "/docs",
            "/metrics",
            "/fibonacci/docs/x",
            "/fibonacci/docs",
            "/factorial/openapi.json",
            "/fibonacci//",
            "/ackermann/2",
            "/ackermann/2/3/4",
            "/assets/app.js",
        ] {
            assert_eq!(access(path), Access::Other, "{path}");
        }
    }

    #[test]
    fn only_the_servers_own_origin_is_same_origin() {
        let with = |origin: &str| {
            Request::builder()
                .header(header::HOST, "127.0.0.1:8000")
                .header(header::ORIGIN, origin)
                .finish()
        };
        assert!(!is_cross_origin(&with("http://127.0.0.1:8000")));
        assert!(is_cross_origin(&with("http://evil.example")));
        assert!(is_cross_origin(&with("http://127.0.0.1:9999")));
        assert!(is_cross_origin(&with("null")));
        assert!(!is_cross_origin(
            &Request::builder()
                .header(header::HOST, "127.0.0.1:8000")
                .finish()
        ));
    }
}
