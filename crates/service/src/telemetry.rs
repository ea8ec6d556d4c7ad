//! Logs (Bunyan JSON lines) and metrics (OpenTelemetry, exported for Prometheus).
//!
//! The names used here are a contract with the dashboards and the log pipeline:
//! `docs/observability.md` lists them all.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _, UpDownCounter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, TextEncoder};
use tracing_bunyan_formatter::{BunyanFormattingLayer, JsonStorageLayer};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Registry};

/// The version every binary reports (`mathapi_build_info`, `target_info`, OpenAPI).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        filter: String,
        source: tracing_subscriber::filter::ParseError,
    },
    #[error("a global logger is already installed: {0}")]
    AlreadyInstalled(String),
    #[error("metrics exporter: {0}")]
    Exporter(String),
}

/// Installs the process-wide JSON logger: Bunyan lines on stdout, filtered by `filter`.
pub fn init_logging(service: &str, filter: &str) -> Result<(), TelemetryError> {
    let env_filter = EnvFilter::try_new(filter).map_err(|source| TelemetryError::Filter {
        filter: filter.to_owned(),
        source,
    })?;
    let subscriber = Registry::default()
        .with(env_filter)
        .with(JsonStorageLayer)
        .with(BunyanFormattingLayer::new(
            service.to_owned(),
            std::io::stdout,
        ));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    // Dependencies that log through the `log` crate end up in the same stream.
    tracing_log::LogTracer::init().map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}

/// OpenTelemetry HTTP semantic-convention boundaries for `http.server.request.duration`.
const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Computations mostly take microseconds: the HTTP buckets would put them all in one.
const COMPUTATION_BUCKETS: [f64; 19] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The process's metrics: one Prometheus registry fed by one OpenTelemetry meter provider.
///
/// Cheap to clone; every clone records into the same registry. Not global, so tests can run
/// several servers in one process without mixing their numbers.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Instruments>,
}

struct Instruments {
    registry: prometheus::Registry,
    // Kept so the instruments stay connected to the exporter.
    _provider: SdkMeterProvider,
    meter: Meter,
    request_duration: Histogram<f64>,
    active_requests: UpDownCounter<i64>,
    computation_duration: Histogram<f64>,
    rejected_inputs: Counter<u64>,
}

impl Metrics {
    /// Creates the registry and instruments for `service` (e.g. `fibonacci`).
    pub fn new(service: &str) -> Result<Self, TelemetryError> {
        let registry = prometheus::Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            // Every metric comes from the one `mathapi` meter: scope labels would only
            // repeat that on every series.
            .scope_info_enabled(false)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;

        let resource = Resource::builder_empty()
            .with_service_name(service.to_owned())
            .with_attribute(KeyValue::new("service.version", VERSION))
            .build();
        let provider = SdkMeterProvider::builder()
            .with_reader(exporter)
            .with_resource(resource)
            .build();
        let meter = provider.meter("mathapi");

        let request_duration = meter
            .f64_histogram("http.server.request.duration")
            .with_unit("s")
            .with_description("Duration of HTTP server requests.")
            .with_boundaries(HTTP_DURATION_BUCKETS.to_vec())
            .build();
        let active_requests = meter
            .i64_up_down_counter("http.server.active_requests")
            .with_description("Number of active HTTP server requests.")
            .build();
        let computation_duration = meter
            .f64_histogram("mathapi.computation.duration")
            .with_unit("s")
            .with_description("Time to compute a result and render it in decimal.")
            .with_boundaries(COMPUTATION_BUCKETS.to_vec())
            .build();
        let rejected_inputs = meter
            .u64_counter("mathapi.rejected_inputs")
            .with_description("Arguments refused with 400, by function and reason.")
            .build();
        meter
            .u64_gauge("mathapi.build_info")
            .with_description("Always 1; the labels name the running build.")
            .build()
            .record(
                1,
                &[
                    KeyValue::new("service", service.to_owned()),
                    KeyValue::new("version", VERSION),
                ],
            );

        Ok(Metrics {
            inner: Arc::new(Instruments {
                registry,
                _provider: provider,
                meter,
                request_duration,
                active_requests,
                computation_duration,
                rejected_inputs,
            }),
        })
    }

    /// The meter, for instruments a single service adds (e.g. the sequence stepper's).
    pub fn meter(&self) -> &Meter {
        &self.inner.meter
    }

    /// Everything in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail on I/O; a metric family the encoder rejects would be
        // a programming error, and a partial page is more useful than none.
        let _ = TextEncoder::new().encode(&self.inner.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }

    pub(crate) fn request_started(&self, method: &str) {
        self.inner.active_requests.add(
            1,
            &[KeyValue::new("http.request.method", method.to_owned())],
        );
    }

    pub(crate) fn request_finished(
        &self,
        method: &str,
        route: Option<&str>,
        status: u16,
        duration: Duration,
    ) {
        let method = KeyValue::new("http.request.method", method.to_owned());
        self.inner
            .active_requests
            .add(-1, std::slice::from_ref(&method));
        let status = KeyValue::new("http.response.status_code", i64::from(status));
        let duration = duration.as_secs_f64();
        match route {
            Some(route) => self.inner.request_duration.record(
                duration,
                &[
                    method,
                    KeyValue::new("http.route", route.to_owned()),
                    status,
                ],
            ),
            None => self
                .inner
                .request_duration
                .record(duration, &[method, status]),
        }
    }

    pub(crate) fn record_computation(&self, function: &'static str, duration: Duration) {
        self.inner.computation_duration.record(
            duration.as_secs_f64(),
            &[KeyValue::new("function", function)],
        );
    }

    pub(crate) fn record_rejection(&self, function: &'static str, reason: &'static str) {
        self.inner.rejected_inputs.add(
            1,
            &[
                KeyValue::new("function", function),
                KeyValue::new("reason", reason),
            ],
        );
    }
}
