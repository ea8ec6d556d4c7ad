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

use crate::fields;

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
pub fn server_span(
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
pub fn finish_server_span(span: &Span, method: &str, route: Option<&str>, status: u16) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tracing_subscriber::layer::SubscriberExt;

    /// Runs `make_spans` with the OpenTelemetry layer over an in-memory exporter, and returns
    /// the spans it finished.
    fn exported(make_spans: impl FnOnce()) -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, make_spans);
        exporter.get_finished_spans().unwrap()
    }

    fn traceparent(value: &str) -> poem::http::HeaderMap {
        let mut headers = poem::http::HeaderMap::new();
        headers.insert("traceparent", value.parse().unwrap());
        headers
    }

    #[test]
    fn a_failed_request_is_an_error_span_named_by_its_route() {
        let headers = traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let mut ids = None;
        let spans = exported(|| {
            let (span, sampled) = server_span(&headers, "req-1", "GET", "/fibonacci/7/");
            finish_server_span(&span, "GET", Some("/fibonacci/{n}/"), 503);
            ids = sampled;
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
        assert_eq!(ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ids.span_id, span.span_context.span_id().to_string());
        assert_eq!(span.parent_span_id.to_string(), "00f067aa0ba902b7");
        let attribute = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.to_string())
        };
        assert_eq!(
            attribute("http.response.status_code").as_deref(),
            Some("503")
        );
        assert_eq!(attribute("http.route").as_deref(), Some("/fibonacci/{n}/"));
        assert_eq!(attribute("mathapi.request_id").as_deref(), Some("req-1"));
    }

    #[test]
    fn a_request_no_route_matched_is_named_by_its_method_and_not_an_error() {
        let spans = exported(|| {
            let (span, _) = server_span(&poem::http::HeaderMap::new(), "req-2", "POST", "/x");
            finish_server_span(&span, "POST", None, 404);
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
}
