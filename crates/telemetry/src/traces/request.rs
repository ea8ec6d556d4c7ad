//! The spans of one request, made with the OpenTelemetry API directly: the server span (a
//! child of the caller's span when the request carries a W3C `traceparent`, named and
//! attributed as the HTTP semantic conventions say) and its `computation` child.
//!
//! The sampler decides as the server span starts; a span it drops costs nothing more: no
//! attributes, no `tracing` span of its own, no children. A sampled span records its
//! attributes once, is renamed once when the answer names its route, and is handed to the
//! batch processor when it ends. Its context is the current OpenTelemetry context while the
//! handler runs ([`ServerSpan::context`]), which is how the `computation` span finds its
//! parent and warnings logged inside become its events (`events`).

use std::sync::Arc;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Span as _, SpanContext, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracer;

use crate::fields;

/// The W3C ids of a sampled request's server span, in lower-case hex, for its log lines.
/// Plain bytes, not `String`s: copied into the handler's scope without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIds {
    trace_id: [u8; 32],
    span_id: [u8; 16],
}

impl TraceIds {
    fn of(span: &SpanContext) -> Self {
        TraceIds {
            trace_id: hex(span.trace_id().to_bytes()),
            span_id: hex(span.span_id().to_bytes()),
        }
    }

    /// The trace id: 32 hex digits.
    pub fn trace_id(&self) -> &str {
        as_str(&self.trace_id)
    }

    /// The server span's own id: 16 hex digits.
    pub fn span_id(&self) -> &str {
        as_str(&self.span_id)
    }
}

/// `bytes` in lower-case hex, as W3C Trace Context writes ids (a table, not `fmt`: this is
/// done for every sampled request).
fn hex<const N: usize, const H: usize>(bytes: [u8; N]) -> [u8; H] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0; H];
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    out
}

fn as_str(hex: &[u8]) -> &str {
    // Only ASCII hex digits are ever written.
    std::str::from_utf8(hex).unwrap_or_default()
}

/// The server span of a sampled request, open until [`ServerSpan::finish`] (or until it is
/// dropped, when the request's future is).
#[derive(Debug)]
pub struct ServerSpan {
    context: Context,
    ids: TraceIds,
}

/// The header that carries the caller's trace context.
const TRACEPARENT: &str = "traceparent";

/// Starts the server span of a request with `tracer`; `None` when the sampler drops it
/// (nothing more is spent on it, and its log lines carry no ids).
pub(super) fn start_server_span(
    tracer: &SdkTracer,
    headers: &poem::http::HeaderMap,
    request_id: &str,
    method: &'static str,
    path: &Arc<str>,
) -> Option<ServerSpan> {
    let parent = caller_context(headers);
    // The name is the method until the answer names the route: a `&'static str`, no copy.
    let mut span = tracer
        .span_builder(method)
        .with_kind(SpanKind::Server)
        .start_with_context(tracer, &parent);
    if !span.span_context().is_sampled() {
        return None;
    }
    let ids = TraceIds::of(span.span_context());
    // Set while the span is still ours alone: no lock.
    span.set_attributes([
        KeyValue::new("http.request.method", method),
        KeyValue::new("url.path", Value::from(path.clone())),
        KeyValue::new("mathapi.request_id", request_id.to_owned()),
    ]);
    let context = parent.with_span(span);
    Some(ServerSpan { context, ids })
}

/// The caller's span context from `traceparent` (and `tracestate`); an empty context, so the
/// server span is a root, when there is none or it is invalid.
fn caller_context(headers: &poem::http::HeaderMap) -> Context {
    if !headers.contains_key(TRACEPARENT) {
        return Context::new();
    }
    TraceContextPropagator::new().extract_with_context(&Context::new(), &HeaderExtractor(headers))
}

impl ServerSpan {
    /// The span's ids, for the request's log lines.
    pub fn ids(&self) -> TraceIds {
        self.ids
    }

    /// The OpenTelemetry context with this span: current while the handler runs (see
    /// `opentelemetry::context::FutureExt::with_context`), so that the `computation` span is
    /// its child and warnings become its events.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Completes the span with what the answer says, and ends it (as it is dropped): its name
    /// `{method} {route}`, the route, the status code, and an error status for a 5xx answer.
    pub fn finish(self, method: &str, route: Option<&Arc<str>>, status: u16) {
        let span = self.context.span();
        let status_code = KeyValue::new("http.response.status_code", i64::from(status));
        match route {
            Some(route) => {
                span.update_name(format!("{method} {route}"));
                let route = KeyValue::new("http.route", Value::from(route.clone()));
                span.set_attributes([route, status_code]);
            }
            None => span.set_attribute(status_code),
        }
        if status >= 500 {
            span.set_status(Status::error(""));
        }
    }
}

/// The `computation` span of a sampled request: a child of the span current where it is
/// started (the server span), open until [`ComputationSpan::finish`] or until it is dropped.
#[derive(Debug)]
pub struct ComputationSpan {
    context: Context,
}

/// Starts a `computation` span of `function` with `tracer` inside the current context;
/// `None` outside a sampled request (a dropped parent's children would be dropped too).
pub(super) fn start_computation_span(
    tracer: &SdkTracer,
    function: &'static str,
) -> Option<ComputationSpan> {
    Context::map_current(|current| {
        if !current.span().span_context().is_sampled() {
            return None;
        }
        let span = tracer
            .span_builder(fields::COMPUTATION_SPAN)
            .with_kind(SpanKind::Internal)
            .start_with_context(tracer, current);
        let context = current.with_span(span);
        context
            .span()
            .set_attribute(KeyValue::new(fields::FUNCTION, function));
        Some(ComputationSpan { context })
    })
}

impl ComputationSpan {
    /// The context with this span, to make current while the computation runs (warnings
    /// logged by it become its events).
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Records the computation's arguments, as on the log line (`n=10`).
    pub fn arguments(&self, arguments: &str) {
        self.context
            .span()
            .set_attribute(KeyValue::new(fields::ARGUMENTS, arguments.to_owned()));
    }

    /// Ends the span (as it is dropped) with `digits`, the length of the result.
    pub fn finish(self, digits: usize) {
        let digits = i64::try_from(digits).unwrap_or(i64::MAX);
        self.context
            .span()
            .set_attribute(KeyValue::new(fields::RESULT_DIGITS, digits));
    }
}

impl Drop for ComputationSpan {
    /// A computation abandoned on the way (shed, or its future dropped) still ends its span.
    fn drop(&mut self) {
        self.context.span().end();
    }
}

impl Drop for ServerSpan {
    /// A request whose future is dropped (the client went away) still ends its span.
    fn drop(&mut self) {
        self.context.span().end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

    /// Runs `make_spans` with a tracer over an in-memory exporter, and returns the spans it
    /// finished.
    fn exported(make_spans: impl FnOnce(&SdkTracer)) -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        make_spans(&provider.tracer("test"));
        exporter.get_finished_spans().unwrap()
    }

    fn traceparent(value: &str) -> poem::http::HeaderMap {
        let mut headers = poem::http::HeaderMap::new();
        headers.insert("traceparent", value.parse().unwrap());
        headers
    }

    fn attribute(span: &SpanData, key: &str) -> Option<String> {
        span.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    }

    #[test]
    fn a_failed_request_is_an_error_span_named_by_its_route() {
        let headers = traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let mut ids = None;
        let spans = exported(|tracer| {
            let path = Arc::from("/fibonacci/7/");
            let span = start_server_span(tracer, &headers, "req-1", "GET", &path).unwrap();
            ids = Some(span.ids());
            span.finish("GET", Some(&Arc::from("/fibonacci/{n}/")), 503);
        });
        let [span] = &spans[..] else {
            panic!("{spans:#?}")
        };
        let ids = ids.expect("sampled");
        assert_eq!(span.name, "GET /fibonacci/{n}/");
        assert_eq!(span.span_kind, SpanKind::Server);
        assert!(
            matches!(span.status, Status::Error { .. }),
            "{:?}",
            span.status
        );
        assert_eq!(
            span.span_context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(ids.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ids.span_id(), span.span_context.span_id().to_string());
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
        for (key, value) in [
            ("http.response.status_code", "503"),
            ("http.route", "/fibonacci/{n}/"),
            ("http.request.method", "GET"),
            ("url.path", "/fibonacci/7/"),
            ("mathapi.request_id", "req-1"),
        ] {
            assert_eq!(attribute(span, key).as_deref(), Some(value), "{key}");
        }
        assert_eq!(span.attributes.len(), 5, "each attribute once");
    }

    #[test]
    fn ids_are_written_as_w3c_trace_context_writes_them() {
        let context = SpanContext::new(
            opentelemetry::TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c_u128),
            opentelemetry::SpanId::from(0x00f0_67aa_0ba9_02b7_u64),
            opentelemetry::TraceFlags::SAMPLED,
            false,
            Default::default(),
        );
        let ids = TraceIds::of(&context);
        assert_eq!(ids.trace_id(), context.trace_id().to_string());
        assert_eq!(ids.span_id(), context.span_id().to_string());
        assert_eq!(ids.span_id(), "00f067aa0ba902b7");
    }

    #[test]
    fn a_request_no_route_matched_is_named_by_its_method_and_not_an_error() {
        let spans = exported(|tracer| {
            let headers = poem::http::HeaderMap::new();
            let span = start_server_span(tracer, &headers, "req-2", "POST", &Arc::from("/x"));
            span.unwrap().finish("POST", None, 404);
        });
        let [span] = &spans[..] else {
            panic!("{spans:#?}")
        };
        assert_eq!(span.name, "POST");
        assert_eq!(
            span.parent_span_id.to_string(),
            "0000000000000000",
            "a root"
        );
        assert!(!matches!(span.status, Status::Error { .. }));
    }

    #[test]
    fn an_unsampled_caller_gets_no_span() {
        let headers = traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        let spans = exported(|tracer| {
            let span = start_server_span(tracer, &headers, "req-3", "GET", &Arc::from("/x"));
            assert!(span.is_none());
        });
        assert!(spans.is_empty(), "{spans:#?}");
    }

    #[test]
    fn the_computation_is_a_child_of_the_current_server_span_and_nothing_outside_one() {
        let spans = exported(|tracer| {
            assert!(start_computation_span(tracer, "fibonacci").is_none());
            let headers = poem::http::HeaderMap::new();
            let path = Arc::from("/fibonacci/7/");
            let server = start_server_span(tracer, &headers, "req-4", "GET", &path).unwrap();
            {
                let _current = server.context().clone().attach();
                let computation = start_computation_span(tracer, "fibonacci").unwrap();
                computation.arguments("n=7");
                computation.finish(2);
            }
            server.finish("GET", Some(&Arc::from("/fibonacci/{n}/")), 200);
        });
        let [computation, server] = &spans[..] else {
            panic!("{spans:#?}")
        };
        assert_eq!(computation.name, "computation");
        assert_eq!(computation.span_kind, SpanKind::Internal);
        assert_eq!(computation.parent_span_id, server.span_context.span_id());
        assert_eq!(
            computation.span_context.trace_id(),
            server.span_context.trace_id()
        );
        for (key, value) in [
            ("function", "fibonacci"),
            ("arguments", "n=7"),
            ("result_digits", "2"),
        ] {
            assert_eq!(attribute(computation, key).as_deref(), Some(value), "{key}");
        }
    }
}
