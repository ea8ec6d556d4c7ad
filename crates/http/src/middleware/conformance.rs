//! HTTP rules the routes do not enforce themselves:
//!
//! - `Host` (RFC 9112 §3.2): an HTTP/1.1 request without one, or any request with two, is
//!   answered `400` before anything else looks at it ([`Conformance`]);
//! - `Allow` on every `405` (RFC 9110 §15.5.6), from the methods the published OpenAPI
//!   document gives the path ([`RouteTemplates::allowed`]);
//! - `OPTIONS` on a published path: `204` with `Allow`. A CORS preflight (it carries
//!   `Access-Control-Request-Method`) is left to the routes, where a CORS middleware answers
//!   it. ([`AllowedMethods`] does both.)

use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::{self, Either};
use poem::http::header::{ALLOW, HOST};
use poem::http::{HeaderName, HeaderValue, Method, StatusCode, Version};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

use super::routes::RouteTemplates;
use super::{Answered, Incoming, Wrapped};
use crate::problem::Problem;
use crate::request_log::RequestRecord;

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

/// The `204` answer to a plain `OPTIONS` request on a published path.
fn options_answer(request: &Request, routes: &RouteTemplates) -> Option<Response> {
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

/// Whether `response` is a `405` without `Allow`: a handler that refuses a method itself (the
/// stepper refuses HEAD) knows its own list.
fn lacks_allow(response: &Response) -> bool {
    response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(ALLOW)
}

/// Adds `Allow` to an answer, from the methods published for `path`.
fn add_allow(response: &mut Response, path: &str, routes: &RouteTemplates) {
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

/// Answers a plain `OPTIONS` on a published path with `204` and `Allow`, and adds `Allow` to
/// every `405`, from the methods the published document gives the path.
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
            return Either::Left(future::ready(Ok(answer)));
        }
        Either::Right(self.inner.call(req).map(move |result| {
            let mut response = result?;
            if lacks_allow(&response) {
                Incoming::with(|incoming| add_allow(&mut response, &incoming.path, routes));
            }
            Ok(response)
        }))
    }
}
