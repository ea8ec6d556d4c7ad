//! HTTP rules the routes do not enforce themselves:
//!
//! - `Host` (RFC 9112 §3.2): an HTTP/1.1 request without one, or any request with two, is
//!   answered `400` before it reaches a route;
//! - `Allow` on every `405` (RFC 9110 §15.5.6), from the methods the published OpenAPI
//!   document gives the path ([`RouteTemplates::allowed`]);
//! - `OPTIONS` on a published path: `204` with `Allow`. A CORS preflight (it carries
//!   `Access-Control-Request-Method`) is left to the routes, where a CORS middleware answers it.

use poem::http::header::{ALLOW, HOST};
use poem::http::{HeaderName, HeaderValue, Method, StatusCode, Version};
use poem::{IntoResponse, Request, Response};

use super::routes::RouteTemplates;
use crate::problem::Problem;

const ACCESS_CONTROL_REQUEST_METHOD: HeaderName =
    HeaderName::from_static("access-control-request-method");

/// The `400` problem for a request whose `Host` header breaks RFC 9112 §3.2, if it does.
pub(crate) fn host_problem(request: &Request) -> Option<Problem> {
    let hosts = request.headers().get_all(HOST).iter().count();
    // HTTP/2 carries the authority in `:authority`; HTTP/1.0 may omit Host.
    let missing = hosts == 0 && request.version() == Version::HTTP_11;
    let (reason, detail) = match (missing, hosts) {
        (true, _) => (
            "missing_host",
            "an HTTP/1.1 request must have a Host header",
        ),
        (false, 2..) => (
            "duplicate_host",
            "a request must not have more than one Host header",
        ),
        _ => return None,
    };
    Some(Problem::typed(
        StatusCode::BAD_REQUEST,
        reason,
        "Bad Host header",
        detail,
    ))
}

/// The `204` answer to a plain `OPTIONS` request on a published path.
pub(crate) fn options_answer(request: &Request, routes: &RouteTemplates) -> Option<Response> {
    if request.method() != Method::OPTIONS
        || request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let allow = routes.allowed(request.uri().path())?;
    Some(
        StatusCode::NO_CONTENT
            .with_header(ALLOW, allow.as_str())
            .into_response(),
    )
}

/// Adds `Allow` to a `405` answer, from the methods published for `path`.
pub(crate) fn add_allow(response: &mut Response, path: &str, routes: &RouteTemplates) {
    // A handler that refuses a method itself (the stepper refuses HEAD) knows its own list.
    if response.status() != StatusCode::METHOD_NOT_ALLOWED || response.headers().contains_key(ALLOW)
    {
        return;
    }
    if let Some(value) = routes
        .allowed(path)
        .and_then(|allow| HeaderValue::from_str(&allow).ok())
    {
        response.headers_mut().insert(ALLOW, value);
    }
}
