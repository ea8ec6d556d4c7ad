//! The middleware every request passes through ([`Observe`]): it gives the request an id
//! and a span, normalizes the path, turns every error (404, 405, panics, ...) into a problem
//! document, records the HTTP metrics, and writes the request's one log line.
//!
//! - `routes`: published route templates, for the `http_route` label and log field;
//! - `trailing_slash`: `/fibonacci/10/` and `/fibonacci/10` are one route;
//! - `errors`: errors and panics as problem documents;
//! - `caching`: math answers from the render cache, immutable, with `ETag` and `304`;
//! - `conformance`: `Host` rules, `Allow` on 405, `OPTIONS`.
//!
//! A process started with a fault file hands its [`FaultSwitch`] to the middleware as request
//! data; faults are injected before the cache is consulted, so cached answers slow down and
//! fail too.

mod caching;
mod conformance;
mod errors;
mod routes;
mod trailing_slash;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response};
use tracing::{Instrument, Span};

use crate::problem::Problem;
use crate::render_cache::RenderCache;
use crate::request_log::RequestRecord;
use crate::{request_id, request_log};
use caching::Conditional;
use errors::{Failed, error_response, panic_response};
use mathapi_faults::{FaultSwitch, Injected};
use mathapi_telemetry::traces::{self, TraceIds};
use mathapi_telemetry::{Metrics, fields, method_label};

pub use routes::RouteTemplates;

/// Longest `url_path` written to a log line: paths can be kilobytes long.
const LOGGED_PATH_LIMIT: usize = 256;

/// Request id, request span, path normalization, problem documents for all errors, cached
/// and conditional answers, HTTP metrics and the request's log line.
pub struct Observe {
    metrics: Metrics,
    routes: Arc<RouteTemplates>,
    cache: RenderCache,
}

impl Observe {
    /// Observes requests into `metrics`, naming routes by their published `routes`, and
    /// keeping math answers in `cache`.
    pub fn new(metrics: Metrics, routes: RouteTemplates, cache: RenderCache) -> Self {
        Observe {
            metrics,
            routes: Arc::new(routes),
            cache,
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
            cache: self.cache.clone(),
        }
    }
}

/// The endpoint [`Observe`] wraps around the routes.
pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Metrics,
    routes: Arc<RouteTemplates>,
    cache: RenderCache,
}

/// What is known of a request before it is handled.
struct Incoming {
    id: String,
    method: &'static str,
    path: String,
    /// The ids of a sampled trace, for the log line.
    trace: Option<TraceIds>,
}

/// What the log line and the metrics say about a request once it is answered.
struct Completed<'a> {
    incoming: &'a Incoming,
    route: Option<Arc<str>>,
    status: u16,
    elapsed: Duration,
    record: RequestRecord,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let mut incoming = Incoming {
            id: request_id::of_request(&req),
            method: method_label(req.method()),
            path: req.uri().path().to_owned(),
            trace: None,
        };
        self.metrics.request_started(incoming.method);
        // With traces on, the span starts before the cache lookup: hits are traced too.
        let traced = traces::is_on().then(|| {
            let (span, ids) = traces::server_span(
                req.headers(),
                &incoming.id,
                incoming.method,
                logged_path(&incoming.path),
            );
            incoming.trace = ids;
            span
        });
        let (mut response, record, route) = self.respond(req, &incoming, traced.clone()).await;
        if let Some(span) = traced.filter(|_| incoming.trace.is_some()) {
            let status = response.status().as_u16();
            traces::finish_server_span(&span, incoming.method, route.as_deref(), status);
        }

        let completed = Completed {
            incoming: &incoming,
            route,
            status: response.status().as_u16(),
            elapsed: started.elapsed(),
            record,
        };
        self.metrics.request_finished(
            incoming.method,
            completed.route.as_ref(),
            completed.status,
            completed.elapsed,
        );
        log_completed(&completed);
        set_request_id(&mut response, &incoming.id);
        Ok(response)
    }
}

impl<E: Endpoint> ObserveEndpoint<E> {
    /// The answer, from the cache or the inner endpoint, with what the log line says about
    /// it and the route that answered; delayed or replaced by an injected fault when the
    /// process has a fault switch (docs/stack.md).
    async fn respond(
        &self,
        req: Request,
        incoming: &Incoming,
        traced: Option<Span>,
    ) -> (Response, RequestRecord, Option<Arc<str>>) {
        // A request the server refuses (a bad `Host`) is refused before anything else.
        let host_ok = conformance::host_problem(&req).is_none();
        let injected = match host_ok {
            true => self.faults_for(&req, &incoming.path),
            false => None,
        };
        let Some((function, route, injected)) = injected else {
            return self
                .cached_or_answered(req, incoming, host_ok, traced)
                .await;
        };
        if let Some(latency) = injected.latency {
            tokio::time::sleep(latency).await;
        }
        if injected.error {
            return injected_error(incoming, function, route, injected);
        }
        let (response, mut record, route) = self
            .cached_or_answered(req, incoming, host_ok, traced)
            .await;
        record.fault = injected.label();
        (response, record, route)
    }

    /// The faults to inject into a request to a published route of a function with a
    /// fault (not its documentation), with that function and route; `None` without a fault
    /// switch (the usual case: one lookup in the request's data).
    fn faults_for(&self, req: &Request, path: &str) -> Option<(&'static str, Arc<str>, Injected)> {
        let switch = req.data::<FaultSwitch>()?;
        if crate::docs::is_documentation(path) {
            return None;
        }
        let route = self.routes.published(path)?;
        let function = switch.function(route.split('/').find(|s| !s.is_empty())?)?;
        let injected = switch.draw(function);
        injected
            .label()
            .is_some()
            .then_some((function, route, injected))
    }

    /// The answer from the cache, or the inner endpoint's, with what the log line says about
    /// it and the route that answered.
    async fn cached_or_answered(
        &self,
        req: Request,
        incoming: &Incoming,
        host_ok: bool,
        traced: Option<Span>,
    ) -> (Response, RequestRecord, Option<Arc<str>>) {
        let conditional = Conditional::of(&req);
        let path = trailing_slash::normal_path(&incoming.path);
        if host_ok && let Some(hit) = caching::from_cache(&self.cache, &conditional, &path) {
            return hit;
        }
        let span = traced.unwrap_or_else(|| request_span(&incoming.id));
        let (response, mut record) =
            RequestRecord::collect(self.answer(req, incoming).instrument(span)).await;
        let route = self.route_of(&response);
        let response = caching::store(
            &self.cache,
            &conditional,
            &path,
            route.as_ref(),
            response,
            &mut record,
        )
        .await;
        (response, record, route)
    }

    /// The inner endpoint's answer to the normalized request, with every error and panic
    /// turned into a problem document.
    async fn answer(&self, req: Request, incoming: &Incoming) -> Response {
        if let Some(answer) = self.refuse_or_answer_early(&req, incoming) {
            return answer;
        }
        let outcome = AssertUnwindSafe(self.inner.call(trailing_slash::normalize(req)))
            .catch_unwind()
            .await;
        let failed = || Failed {
            method: incoming.method,
            path: &incoming.path,
            request_id: &incoming.id,
        };
        let mut response = match outcome {
            Ok(Ok(output)) => output.into_response(),
            Ok(Err(error)) => error_response(error, &failed()),
            Err(panic) => panic_response(&*panic, &failed()),
        };
        conformance::add_allow(&mut response, &incoming.path, &self.routes);
        response
    }

    /// The answer given before routing, if any: `400` for a bad `Host`, `204` for `OPTIONS`.
    fn refuse_or_answer_early(&self, req: &Request, incoming: &Incoming) -> Option<Response> {
        if let Some(problem) = conformance::host_problem(req) {
            request_log::note_problem(&problem);
            return Some(problem.with_instance(&incoming.path).into_response());
        }
        conformance::options_answer(req, &self.routes)
    }

    /// The published template of the route that answered; `None` when none matched.
    fn route_of(&self, response: &Response) -> Option<Arc<str>> {
        response
            .data::<PathPattern>()
            .and_then(|p| self.routes.template(&p.0))
    }
}

/// The span the request is handled in: lines logged inside it carry its `request_id`. It
/// writes no lines of its own at `info` (see `mathapi_telemetry::init_logging`).
fn request_span(request_id: &str) -> Span {
    tracing::info_span!(fields::REQUEST_SPAN, { fields::REQUEST_ID } = request_id)
}

/// The answer to a request a fault was injected into: a `500` problem document, logged and
/// counted like any other server error.
fn injected_error(
    incoming: &Incoming,
    function: &'static str,
    route: Arc<str>,
    injected: Injected,
) -> (Response, RequestRecord, Option<Arc<str>>) {
    let problem = Problem::typed(
        StatusCode::INTERNAL_SERVER_ERROR,
        "injected_fault",
        "Injected fault",
        "an error injected for a demonstration by this server's fault file",
    )
    .with_instance(&incoming.path);
    let record = RequestRecord {
        function: Some(function),
        reason: problem.reason.clone(),
        detail: Some(problem.detail.clone()),
        fault: injected.label(),
        ..RequestRecord::default()
    };
    (problem.into_response(), record, Some(route))
}

/// The path as logged: cut at [`LOGGED_PATH_LIMIT`] bytes (on a character boundary).
fn logged_path(path: &str) -> &str {
    if path.len() <= LOGGED_PATH_LIMIT {
        return path;
    }
    let mut cut = LOGGED_PATH_LIMIT;
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    &path[..cut]
}

/// The `request completed` line of `$c`, with `$ids` (fields) after `request_id`.
macro_rules! request_line {
    ($c:expr $(, $($ids:tt)+)?) => {{
        let c = $c;
        macro_rules! request_completed {
            ($level:ident) => {
                tracing::$level!(
                    { fields::REQUEST_ID } = c.incoming.id.as_str(),
                    $($($ids)+)?
                    { fields::HTTP_METHOD } = c.incoming.method,
                    { fields::URL_PATH } = logged_path(&c.incoming.path),
                    { fields::HTTP_ROUTE } = c.route.as_deref(),
                    { fields::HTTP_STATUS } = c.status,
                    // Microsecond precision is all a latency needs, and keeps the number short.
                    { fields::LATENCY_MS } = c.elapsed.as_micros() as f64 / 1e3,
                    { fields::FUNCTION } = c.record.function,
                    { fields::ARGUMENTS } = c.record.arguments.as_deref(),
                    { fields::COMPUTE_MS } = c.record.compute_ms(),
                    { fields::RESULT_DIGITS } = c.record.result_digits,
                    { fields::CACHE } = c.record.cache,
                    { fields::REASON } = c.record.reason.as_deref(),
                    { fields::DETAIL } = c.record.detail.as_deref(),
                    { fields::FAULT } = c.record.fault,
                    "request completed"
                )
            };
        }
        // A shed request is the server protecting itself, not a failure: counted in
        // `mathapi_shed_requests_total`, and logged at `info` so that a flood of them is
        // batched instead of costing a write each (error lines are written at once).
        let shed =
            c.record.reason.as_deref() == Some(crate::limits::ShedReason::Overloaded.as_str());
        if c.status >= 500 && !shed {
            request_completed!(error);
        } else {
            request_completed!(info);
        }
    }};
}

/// Writes the request's one line: `info`, or `error` for a 5xx answer; with the trace's ids
/// when the request is sampled.
fn log_completed(c: &Completed<'_>) {
    // Untraced lines keep their own callsite, without the two id fields: they cost exactly
    // what they did before traces existed.
    match &c.incoming.trace {
        Some(ids) => log_completed_with(c, &ids.trace_id, &ids.span_id),
        None => request_line!(c),
    }
}

/// [`log_completed`] with the `trace_id` and `span_id` of a sampled request.
fn log_completed_with(c: &Completed<'_>, trace_id: &str, span_id: &str) {
    request_line!(
        c,
        { fields::TRACE_ID } = trace_id,
        { fields::SPAN_ID } = span_id,
    );
}

fn set_request_id(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(request_id::HEADER, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_paths_are_cut_on_a_character_boundary() {
        assert_eq!(logged_path("/fibonacci/10/"), "/fibonacci/10/");
        let long = format!("/{}", "é".repeat(1000));
        let logged = logged_path(&long);
        assert!(logged.len() <= LOGGED_PATH_LIMIT && logged.len() > LOGGED_PATH_LIMIT - 2);
    }
}
