//! HTTP rules the routes do not enforce themselves:
//!
//! - `Host` (RFC 9112 §3.2): an HTTP/1.1 request without one, or any request with two, is
//!   answered `400` before anything else looks at it ([`Conformance`]);
//! - one list of methods per published path ([`RouteTemplates::allowed`], from the OpenAPI
//!   document): a method it lacks is refused with `405` before the routes see it, and every
//!   `405` on the path carries that list as `Allow` (RFC 9110 §15.5.6), so what is refused
//!   and what is advertised cannot disagree;
//! - `OPTIONS` on a published path: `204` with `Allow`; `OPTIONS *`: `204` with every method
//!   the server takes. A CORS preflight (it carries `Access-Control-Request-Method`) is left
//!   to the routes, where a CORS middleware answers it. ([`AllowedMethods`] does these.)

use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::{self, Either};
use poem::http::header::{ALLOW, HOST};
use poem::http::{HeaderName, HeaderValue, Method, StatusCode, Version};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::errors::method_not_allowed_detail;
use super::routes::RouteTemplates;
use super::{Answered, Incoming, Wrapped};
use crate::problem::Problem;
use crate::request_log::{self, RequestRecord};
use mathapi_telemetry::method_label;

const ACCESS_CONTROL_REQUEST_METHOD: HeaderName =
    HeaderName::from_static("access-control-request-method");

/// The `400` problem for a request whose `Host` header breaks RFC 9112 §3.2, if it does.
fn host_problem(request: &Request) -> Option<Problem> {
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

/// The `204` answer to a plain `OPTIONS` request on a published path, or to `OPTIONS *`.
fn options_answer(request: &Request, routes: &RouteTemplates) -> Option<Response> {
    if request.method() != Method::OPTIONS
        || request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    {
        return None;
    }
    let allow = match request.uri().path() {
        "*" => routes.server_wide().to_owned(),
        path => routes.allowed(path)?,
    };
    Some(
        StatusCode::NO_CONTENT
            .with_header(ALLOW, allow.as_str())
            .into_response(),
    )
}

/// The `405` problem for a method the published path does not take.
fn refusal(request: &Request, routes: &RouteTemplates) -> Option<Problem> {
    let path = request.uri().path();
    if routes.permits(path, request.method().as_str())? {
        return None;
    }
    let mut detail = method_not_allowed_detail(method_label(request.method()), path);
    if let Some(allowed) = routes.allowed(path) {
        detail.push_str(" (it takes ");
        detail.push_str(&allowed);
        detail.push(')');
    }
    Some(Problem::from_status(StatusCode::METHOD_NOT_ALLOWED, detail).with_instance(path))
}

/// Sets `Allow` on an answer, from the methods published for `path` (nothing for an
/// unpublished path).
fn set_allow(response: &mut Response, path: &str, routes: &RouteTemplates) {
    if let Some(value) = routes
        .allowed(path)
        .and_then(|allow| HeaderValue::from_str(&allow).ok())
    {
        response.headers_mut().insert(ALLOW, value);
    }
}

/// Refuses a request whose `Host` header breaks RFC 9112 §3.2 with a `400` problem document,
/// before faults, the cache or the routes see it.
pub(crate) struct Conformance;

impl<E: Endpoint<Output = Answered>> Middleware<E> for Conformance {
    type Output = Wrapped<Conformance, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: Conformance,
            inner,
        }
    }
}

impl<E: Endpoint<Output = Answered>> Endpoint for Wrapped<Conformance, E> {
    type Output = Answered;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Answered>> + Send {
        let Some(problem) = host_problem(&req) else {
            return Either::Left(self.inner.call(req));
        };
        let record = RequestRecord::of_problem(&problem);
        let problem = problem.with_instance(req.uri().path());
        Either::Right(future::ready(Ok(Answered {
            response: problem.into_response(),
            record,
            route: None,
        })))
    }
}

/// Answers a plain `OPTIONS` on a published path (and `OPTIONS *`) with `204` and `Allow`,
/// refuses a method the published path does not take with `405`, and sets `Allow` on every
/// `405` of a published path: all from the methods the published document gives the path.
pub(crate) struct AllowedMethods {
    routes: Arc<RouteTemplates>,
}

impl AllowedMethods {
    pub(crate) fn new(routes: &Arc<RouteTemplates>) -> Self {
        AllowedMethods {
            routes: routes.clone(),
        }
    }
}

impl<E: Endpoint<Output = Response>> Middleware<E> for AllowedMethods {
    type Output = Wrapped<AllowedMethods, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: AllowedMethods::new(&self.routes),
            inner,
        }
    }
}

impl<E: Endpoint<Output = Response>> Endpoint for Wrapped<AllowedMethods, E> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let routes = &self.layer.routes;
        if let Some(answer) = options_answer(&req, routes) {
            return Either::Left(Either::Left(future::ready(Ok(answer))));
        }
        if let Some(problem) = refusal(&req, routes) {
            let path = req.uri().path().to_owned();
            // Noted as the future runs: the record's scope is open only then.
            return Either::Left(Either::Right(future::lazy(move |_| {
                request_log::note_problem(&problem);
                let mut response = problem.into_response();
                set_allow(&mut response, &path, routes);
                Ok(response)
            })));
        }
        Either::Right(self.inner.call(req).map(move |result| {
            let mut response = result?;
            if response.status() == StatusCode::METHOD_NOT_ALLOWED {
                Incoming::with(|incoming| set_allow(&mut response, &incoming.path, routes));
            }
            Ok(response)
        }))
    }
}
