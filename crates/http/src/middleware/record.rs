//! What every request leaves behind: the HTTP metrics, its server span when traces are on,
//! and its one `request completed` log line.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use mathapi_telemetry::traces::{self, HandlerSpans, ServerSpan, TraceIds};
use mathapi_telemetry::{Metrics, fields, method_label};
use poem::{Endpoint, Middleware, Request, Response};

use super::routes::RouteTemplates;
use super::{Answered, Incoming, Wrapped};
use crate::limits::ShedReason;
use crate::request_log::RequestRecord;

/// Longest `url_path` written to a log line: paths can be kilobytes long.
const LOGGED_PATH_LIMIT: usize = 256;

/// Counts every request in the HTTP metrics (in flight, then its duration by method, route
/// and status), traces it when traces are on, and writes its log line.
///
/// The metrics name a method only when some published path takes it (`GET`, `HEAD`,
/// `POST`, `OPTIONS` in the apps), `_OTHER` otherwise: a client sending every method to every path
/// cannot multiply the series. The log line names the method as sent (its standard name).
pub(crate) struct RecordRequest {
    metrics: Metrics,
    routes: Arc<RouteTemplates>,
}

impl RecordRequest {
    pub(crate) fn new(metrics: &Metrics, routes: &Arc<RouteTemplates>) -> Self {
        RecordRequest {
            metrics: metrics.clone(),
            routes: routes.clone(),
        }
    }

    /// The method as the metrics name it.
    fn counted(&self, method: &'static str) -> &'static str {
        match self.routes.is_served_somewhere(method) {
            true => method,
            false => "_OTHER",
        }
    }
}

impl<E: Endpoint<Output = Answered>> Middleware<E> for RecordRequest {
    type Output = Wrapped<RecordRequest, E>;

    fn transform(&self, inner: E) -> Self::Output {
        Wrapped {
            layer: RecordRequest::new(&self.metrics, &self.routes),
            inner,
        }
    }
}

impl<E: Endpoint<Output = Answered>> Endpoint for Wrapped<RecordRequest, E> {
    type Output = Response;

    fn call(&self, req: Request) -> impl Future<Output = poem::Result<Response>> + Send {
        let started = Instant::now();
        let method = method_label(req.method());
        let counted = self.layer.counted(method);
        let metrics = &self.layer.metrics;
        metrics.request_started(counted);
        // With traces on, the span starts before the cache is consulted: hits are traced too.
        let traced = if traces::is_on() {
            start_server_span(&req, method)
        } else {
            None
        };
        self.inner.call(req).map(move |result| {
            let answered = result.unwrap_or_else(|error| Answered::plain(error.into_response()));
            let method = Method {
                sent: method,
                counted,
            };
            Ok(finish(metrics, started, method, traced, answered))
        })
    }
}

/// A request's method: as sent (its standard name), and as the metrics name it.
#[derive(Clone, Copy)]
struct Method {
    sent: &'static str,
    counted: &'static str,
}

/// Ends a request: its span, its metrics and its log line; the answer goes to the client.
fn finish(
    metrics: &Metrics,
    started: Instant,
    method: Method,
    traced: Option<ServerSpan>,
    answered: Answered,
) -> Response {
    let Method {
        sent: method,
        counted,
    } = method;
    let Answered {
        response,
        record,
        route,
    } = answered;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics.request_finished(counted, route.as_ref(), status, elapsed);
    Incoming::with(|incoming| {
        // A handler that did not run (a cached answer, a refusal) left the span here.
        drop(incoming.server_span.take());
        log_completed(&Completed {
            id: &incoming.id,
            trace: traced.as_ref().map(ServerSpan::ids),
            method,
            path: logged_path(&incoming.path),
            route: route.as_deref(),
            status,
            elapsed,
            record: &record,
        });
    });
    if let Some(span) = traced {
        span.finish(method, route.as_ref(), status);
    }
    response
}

/// The request's server span when it is sampled; the layers inside find the spans the
/// handler runs in in the request's scope.
fn start_server_span(req: &Request, method: &'static str) -> Option<ServerSpan> {
    Incoming::with(|incoming| {
        let path = if incoming.path.len() <= LOGGED_PATH_LIMIT {
            incoming.path.clone()
        } else {
            Arc::from(logged_path(&incoming.path))
        };
        let span = traces::server_span(req.headers(), &incoming.id, method, &path)?;
        incoming.server_span.set(Some(HandlerSpans::of(&span)));
        Some(span)
    })
}

/// What the log line says about a request once it is answered.
struct Completed<'a> {
    id: &'a str,
    /// The ids of a sampled trace.
    trace: Option<TraceIds>,
    method: &'static str,
    path: &'a str,
    route: Option<&'a str>,
    status: u16,
    elapsed: Duration,
    record: &'a RequestRecord,
}

impl Completed<'_> {
    /// A `5xx` answer is an error line, except a shed request: that is the server protecting
    /// itself, counted in `mathapi_shed_requests_total`, and logged at `info` so that a flood
    /// of them is batched instead of costing a write each (error lines are written at once).
    fn is_error(&self) -> bool {
        let shed = self.record.reason.as_deref() == Some(ShedReason::Overloaded.as_str());
        self.status >= 500 && !shed
    }
}

/// The `request completed` line of `$c` at `$level`, with the fields `$ids` after its
/// `request_id`. (A macro, as `tracing` needs each line's level and fields at compile time.)
macro_rules! request_completed {
    ($level:ident, $c:expr $(, $($ids:tt)+)?) => {
        tracing::$level!(
            { fields::REQUEST_ID } = $c.id,
            $($($ids)+)?
            { fields::HTTP_METHOD } = $c.method,
            { fields::URL_PATH } = $c.path,
            { fields::HTTP_ROUTE } = $c.route,
            { fields::HTTP_STATUS } = $c.status,
            // Microsecond precision is all a latency needs, and keeps the number short.
            { fields::LATENCY_MS } = $c.elapsed.as_micros() as f64 / 1e3,
            { fields::FUNCTION } = $c.record.function,
            { fields::ARGUMENTS } = $c.record.arguments.as_deref(),
            { fields::COMPUTE_MS } = $c.record.compute_ms(),
            { fields::RESULT_DIGITS } = $c.record.result_digits,
            { fields::CACHE } = $c.record.cache,
            { fields::REASON } = $c.record.reason.as_deref(),
            { fields::DETAIL } = $c.record.detail.as_deref(),
            { fields::FAULT } = $c.record.fault,
            "request completed"
        )
    };
}

/// Writes the request's one line: `info`, or `error` for a 5xx answer; with the trace's ids
/// when the request is sampled. Untraced lines have their own callsites, without the two id
/// fields: they cost exactly what they did before traces existed.
fn log_completed(c: &Completed<'_>) {
    match (c.trace, c.is_error()) {
        (None, false) => request_completed!(info, c),
        (None, true) => request_completed!(error, c),
        (Some(ids), false) => request_completed!(
            info,
            c,
            { fields::TRACE_ID } = ids.trace_id(),
            { fields::SPAN_ID } = ids.span_id(),
        ),
        (Some(ids), true) => request_completed!(
            error,
            c,
            { fields::TRACE_ID } = ids.trace_id(),
            { fields::SPAN_ID } = ids.span_id(),
        ),
    }
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
