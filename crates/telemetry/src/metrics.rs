//! The process's metrics: OpenTelemetry instruments, exported in the Prometheus text format.
//!
//! Every label value comes from a closed set (methods outside the standard ones are `_OTHER`,
//! routes are the published templates, functions and reasons are constants), so no client
//! can add series.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use poem::http::Method;
use prometheus::{Encoder, TextEncoder};

use super::VERSION;
use super::in_flight::InFlight;
use super::logging::TelemetryError;

/// Boundaries of `http.server.request.duration`, seconds. The semantic-convention default
/// starts at 5 ms, where every request here would land in the first bucket; these resolve
/// 50 µs to 10 s. Traefik's histogram (configs/traefik/traefik.yml) uses the same ones, so
/// the service view and the proxy view compare bucket by bucket.
pub const HTTP_DURATION_BUCKETS: [f64; 17] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
];

const METHOD: Key = Key::from_static_str("http.request.method");
const ROUTE: Key = Key::from_static_str("http.route");
const STATUS: Key = Key::from_static_str("http.response.status_code");
const FUNCTION: Key = Key::from_static_str("function");
const REASON: Key = Key::from_static_str("reason");
const KIND: Key = Key::from_static_str("kind");
const OUTCOME: Key = Key::from_static_str("outcome");

/// The methods [`method_label`] names as they are; every other method is [`OTHER_METHOD`].
pub(crate) static STANDARD_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// The label of a method outside [`STANDARD_METHODS`].
pub(crate) const OTHER_METHOD: &str = "_OTHER";

/// The `http.request.method` value: the method itself when it is one of the standard ones,
/// `_OTHER` otherwise (as the HTTP semantic conventions say), so made-up methods cannot add
/// series or log values.
pub fn method_label(method: &Method) -> &'static str {
    STANDARD_METHODS
        .iter()
        .find(|standard| *standard == method)
        .map_or(OTHER_METHOD, Method::as_str)
}

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
    active_requests: Arc<InFlight>,
    computation_duration: Histogram<f64>,
    rejected_inputs: Counter<u64>,
    injected_faults: Counter<u64>,
    fault_reloads: Counter<u64>,
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
        let active_requests = Arc::new(InFlight::default());
        let in_flight = active_requests.clone();
        meter
            .i64_observable_up_down_counter("http.server.active_requests")
            .with_description("Number of active HTTP server requests.")
            .with_callback(move |observer| {
                for (method, count) in in_flight.counts() {
                    observer.observe(count, &[KeyValue::new(METHOD, method)]);
                }
            })
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
        let injected_faults = meter
            .u64_counter("mathapi.injected_faults")
            .with_description("Faults injected for a demonstration, by function and kind.")
            .build();
        let fault_reloads = meter
            .u64_counter("mathapi.fault_reloads")
            .with_description("Fault-file reloads on SIGHUP, by outcome.")
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
                injected_faults,
                fault_reloads,
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

    /// A request has started; `method` is a [`method_label`].
    pub fn request_started(&self, method: &'static str) {
        self.inner.active_requests.start(method);
    }

    /// A request has been answered. `route` is the published template, `None` when no route
    /// matched.
    pub fn request_finished(
        &self,
        method: &'static str,
        route: Option<&Arc<str>>,
        status: u16,
        duration: Duration,
    ) {
        self.inner.active_requests.finish(method);
        let method = KeyValue::new(METHOD, method);
        let status = KeyValue::new(STATUS, i64::from(status));
        let duration = duration.as_secs_f64();
        match route {
            Some(route) => self.inner.request_duration.record(
                duration,
                &[
                    method,
                    KeyValue::new(ROUTE, Value::from(route.clone())),
                    status,
                ],
            ),
            None => self
                .inner
                .request_duration
                .record(duration, &[method, status]),
        }
    }

    /// A computation of `function` took `duration`.
    pub fn record_computation(&self, function: &'static str, duration: Duration) {
        self.inner
            .computation_duration
            .record(duration.as_secs_f64(), &[KeyValue::new(FUNCTION, function)]);
    }

    /// A request to `function` was refused for `reason` (a problem's `reason`).
    pub fn record_rejection(&self, function: &'static str, reason: &'static str) {
        self.inner.rejected_inputs.add(
            1,
            &[
                KeyValue::new(FUNCTION, function),
                KeyValue::new(REASON, reason),
            ],
        );
    }

    /// A fault was injected into a request to `function`; `kind` is `latency` or `error`.
    pub fn record_injected_fault(&self, function: &'static str, kind: &'static str) {
        self.inner.injected_faults.add(
            1,
            &[KeyValue::new(FUNCTION, function), KeyValue::new(KIND, kind)],
        );
    }

    /// The fault file was read again; `outcome` is `applied`, `refused` or `disabled`.
    pub fn record_fault_reload(&self, outcome: &'static str) {
        self.inner
            .fault_reloads
            .add(1, &[KeyValue::new(OUTCOME, outcome)]);
    }
}
