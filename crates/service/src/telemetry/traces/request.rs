//! The server span of one request: a child of the caller's span when the request carries a
//! W3C `traceparent` (Traefik's), named and attributed as the HTTP semantic conventions say,
//! and the ids the request's log lines carry when it is sampled.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::telemetry::fields;

/// The W3C ids of a sampled request's server span, in lower-case hex, for its log lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceIds {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits: the server span's own id.
    pub span_id: String,
}

/// The request span, with the OpenTelemetry parent and attributes a server span has; the
/// ids are `Some` only when the span is sampled (its lines then carry them).
///
/// `otel.*` fields configure the exported span and are not written to log lines; the other
/// attributes are set on the OpenTelemetry span only, so log lines keep their contract.
pub(crate) fn server_span(
    headers: &poem::http::HeaderMap,
    request_id: &str,
    method: &'static str,
    path: &str,
) -> (Span, Option<TraceIds>) {
    let span = tracing::info_span!(
        fields::REQUEST_SPAN,
        { fields::REQUEST_ID } = request_id,
        { fields::TRACE_ID } = Empty,
        { fields::SPAN_ID } = Empty,
        otel.name = method,
        otel.kind = "server",
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    // Fails only without the OpenTelemetry layer (tracing off), where there is no span to
    // parent.
    let _ = span.set_parent(parent);
    // Starts the span: the sampler decides here. (It sees no attributes; none of the
    // specification's samplers looks at them.)
    let context = span.context();
    let otel = context.span();
    let ids = otel.span_context();
    if !ids.is_sampled() {
        // Nothing more to spend on a span that is not exported.
        return (span, None);
    }
    span.set_attribute("http.request.method", method);
    span.set_attribute("url.path", path.to_owned());
    span.set_attribute("mathapi.request_id", request_id.to_owned());
    let ids = TraceIds {
        trace_id: ids.trace_id().to_string(),
        span_id: ids.span_id().to_string(),
    };
    span.record(fields::TRACE_ID, ids.trace_id.as_str());
    span.record(fields::SPAN_ID, ids.span_id.as_str());
    (span, Some(ids))
}

/// Completes a sampled server span with what the answer says: its name `{method} {route}`,
/// the route, the status code, and an error status for a 5xx answer. The span ends when the
/// last handle to it is dropped.
pub(crate) fn finish_server_span(span: &Span, method: &str, route: Option<&str>, status: u16) {
    if let Some(route) = route {
        // The span has started (its ids were needed for the log lines): renamed directly, as
        // `otel.name` only names a span not yet started.
        span.context()
            .span()
            .update_name(format!("{method} {route}"));
        span.set_attribute("http.route", route.to_owned());
    }
    span.set_attribute("http.response.status_code", i64::from(status));
    if status >= 500 {
        span.set_status(Status::error(""));
    }
}
