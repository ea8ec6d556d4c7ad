//! Distributed traces: the spans of a request exported over OTLP/HTTP, joined to the log
//! lines by `trace_id` and `span_id`.
//!
//! Off unless an endpoint is configured; then no OpenTelemetry layer is installed at all and
//! the request path pays one branch ([`is_on`]). When on:
//!
//! - `args` and `headers`: the flags and `OTEL_*` variables ([`TracingArgs`]), the sampler,
//!   the headers added to exports;
//! - `export`: the bounded, counted export queue and the HTTP client that never blocks a
//!   request;
//! - `otlp` and `protobuf`: the exporter posting batches of spans over OTLP/HTTP, and the
//!   protobuf request it writes straight from the SDK's span data;
//! - `request`: the server span of a request (W3C `traceparent` honoured, semantic-convention
//!   attributes), the ids its log lines carry, and its `computation` child; made with the
//!   OpenTelemetry API directly, not mirrored from `tracing` spans;
//! - `events`: warnings and errors inside a sampled request as its span's events.
//!
//! [`Traces`] owns the tracer provider: the logging set-up puts its layer next to the log
//! layer, the metrics read its queue counts, and shutdown flushes what is still queued.

mod args;
mod events;
mod export;
mod headers;
mod otlp;
mod protobuf;
mod request;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;

use super::{Metrics, VERSION, fields};
use events::SpanEvents;
use export::{BoundedProcessor, CountingExporter, ExportClient, QueueCounts};
use otlp::OtlpExporter;

pub use args::{SamplerName, TracingArgs};
pub use request::{ComputationSpan, ServerSpan, TraceIds};

/// Whether spans are exported: set once, when [`Traces`] starts.
static ON: AtomicBool = AtomicBool::new(false);

/// The process's tracer, once [`Traces`] has started.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Whether this process exports traces (the request path's one branch).
pub fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Starts the server span of a request (see [`ServerSpan`]): `None` when traces are off or
/// the sampler drops it. `path` is the path as logged.
pub fn server_span(
    headers: &poem::http::HeaderMap,
    request_id: &str,
    method: &'static str,
    path: &Arc<str>,
) -> Option<ServerSpan> {
    let tracer = TRACER.get()?;
    request::start_server_span(tracer, headers, request_id, method, path)
}

/// Starts the `computation` span of `function` (see [`ComputationSpan`]): `None` unless it is
/// inside a sampled request's server span.
pub fn computation_span(function: &'static str) -> Option<ComputationSpan> {
    let tracer = TRACER.get()?;
    request::start_computation_span(tracer, function)
}

/// What a sampled request's handler needs to run in its trace: the ids its log lines carry
/// (the `tracing` span that gives them to its lines is made only when a handler runs, see
/// [`request_span`]: a cached answer needs none) and the OpenTelemetry context its spans and
/// span events go to.
#[derive(Debug)]
pub struct HandlerSpans {
    /// The trace's ids.
    pub ids: TraceIds,
    /// See [`ServerSpan::context`].
    pub context: opentelemetry::Context,
}

impl HandlerSpans {
    /// What the handler of `server`'s request needs.
    pub fn of(server: &ServerSpan) -> Self {
        HandlerSpans {
            ids: server.ids(),
            context: server.context().clone(),
        }
    }
}

/// The `tracing` span a sampled request's handler runs in: its `request_id` and the trace's
/// ids, which every line logged inside it carries.
pub fn request_span(request_id: &str, ids: &TraceIds) -> tracing::Span {
    tracing::info_span!(
        fields::REQUEST_SPAN,
        { fields::REQUEST_ID } = request_id,
        { fields::TRACE_ID } = ids.trace_id(),
        { fields::SPAN_ID } = ids.span_id(),
    )
}

/// Longest a graceful shutdown waits for the last spans to be exported.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// The running trace export of a process.
pub struct Traces {
    provider: SdkTracerProvider,
    counts: Arc<QueueCounts>,
}

/// Why traces could not start.
#[derive(Debug, thiserror::Error)]
#[error("traces: {0}")]
pub struct TracesError(String);

impl Traces {
    /// Starts exporting spans as `args` say, named `service` unless `--otel-service-name`
    /// says otherwise; `None` when tracing is off.
    pub fn start(service: &str, args: &TracingArgs) -> Result<Option<Traces>, TracesError> {
        let Some(url) = args.traces_url() else {
            return Ok(None);
        };
        let timeout = Duration::from_millis(args.otel_export_timeout_ms);
        let client = ExportClient::new(timeout).map_err(|e| TracesError(e.to_string()))?;
        let exporter = OtlpExporter::new(client, &url, timeout)
            .map_err(TracesError)?
            .with_headers(args.export_headers());
        let counts = Arc::new(QueueCounts::default());
        let bound = args.otel_queue_size as usize;
        // Batch size and delay: the SDK's defaults (512 spans, 5 s) or `OTEL_BSP_*`.
        let batch = BatchSpanProcessor::builder(CountingExporter::new(exporter, counts.clone()))
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_max_queue_size(bound)
                    .build(),
            )
            .build();
        let name = args.otel_service_name.as_deref().unwrap_or(service);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BoundedProcessor::new(batch, counts.clone(), bound))
            .with_sampler(args.sampler())
            .with_resource(
                Resource::builder_empty()
                    .with_service_name(name.to_owned())
                    .with_attribute(KeyValue::new("service.version", VERSION))
                    .build(),
            )
            .build();
        // A process starts its traces once; a second start keeps the first tracer.
        let _ = TRACER.set(provider.tracer("mathapi"));
        ON.store(true, Ordering::Relaxed);
        Ok(Some(Traces { provider, counts }))
    }

    /// The layer that adds warnings and errors inside a sampled request to its span as
    /// events. Its own filter keeps that independent of the log level.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        SpanEvents.with_filter(LevelFilter::WARN)
    }

    /// Counts the export queue into `metrics`: `mathapi_trace_spans_dropped_total` and
    /// `mathapi_trace_spans_queued`.
    pub fn observe_into(&self, metrics: &Metrics) {
        let counts = self.counts.clone();
        metrics
            .meter()
            .u64_observable_counter("mathapi.trace.spans_dropped")
            .with_description("Finished spans dropped because the export queue was full.")
            .with_callback(move |observer| observer.observe(counts.dropped(), &[]))
            .build();
        let counts = self.counts.clone();
        metrics
            .meter()
            .u64_observable_gauge("mathapi.trace.spans_queued")
            .with_description("Finished spans waiting for export.")
            .with_callback(move |observer| observer.observe(counts.pending() as u64, &[]))
            .build();
    }

    /// Exports the spans still queued, waiting at most a few seconds; a line says so when
    /// that fails (the collector is gone or too slow).
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_FLUSH) {
            tracing::warn!({ fields::DETAIL } = %error, "trace export not flushed");
        }
    }
}
