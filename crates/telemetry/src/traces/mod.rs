//! Distributed traces: the spans of a request exported over OTLP/HTTP, joined to the log
//! lines by `trace_id` and `span_id`.
//!
//! Off unless an endpoint is configured; then no OpenTelemetry layer is installed at all and
//! the request path pays one branch ([`is_on`]). When on:
//!
//! - `args`: the flags and `OTEL_*` variables ([`TracingArgs`]), the sampler;
//! - `export`: the bounded, counted export queue and the HTTP client that never blocks a
//!   request;
//! - `request`: the server span of a request (W3C `traceparent` honoured, semantic-convention
//!   attributes) and the ids its log lines carry.
//!
//! [`Traces`] owns the tracer provider: the logging set-up puts its layer next to the log
//! layer, the metrics read its queue counts, and shutdown flushes what is still queued.

mod args;
mod export;
mod request;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use super::{Metrics, VERSION, fields};
use export::{BoundedProcessor, CountingExporter, ExportClient, QueueCounts};

pub use args::{SamplerName, TracingArgs};
pub use request::{TraceIds, finish_server_span, server_span};

/// Whether spans are exported: set once, when [`Traces`] starts.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether this process exports traces (the request path's one branch).
pub fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
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
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(timeout)
            .with_http_client(client)
            .build()
            .map_err(|e| TracesError(e.to_string()))?;
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
        ON.store(true, Ordering::Relaxed);
        Ok(Some(Traces { provider, counts }))
    }

    /// The layer that turns the request and computation spans into OpenTelemetry spans. Its
    /// own filter keeps span export independent of the log level: the `computation` span is
    /// `debug`, below the usual log filter, and is exported anyway.
    pub fn layer<S>(&self) -> impl Layer<S> + Send + Sync + 'static
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("mathapi"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_level(false)
            .with_tracked_inactivity(false)
            .with_filter(filter_fn(exported))
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

/// What the OpenTelemetry layer sees: the request and computation spans, and warnings and
/// errors inside them (as span events).
fn exported(meta: &Metadata<'_>) -> bool {
    if meta.is_span() {
        return meta.name() == fields::REQUEST_SPAN || meta.name() == fields::COMPUTATION_SPAN;
    }
    *meta.level() <= Level::WARN
}
