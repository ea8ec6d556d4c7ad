//! Logs and metrics.
//!
//! - `logging`: the process-wide subscriber: one `request completed` line per request at
//!   `info`, written through a sink;
//! - `bunyan`: the Bunyan JSON line format (`tracing-bunyan-formatter`'s, written faster).
//! - `log_sink`: the buffered sink that keeps write syscalls off the hot path.
//! - `metrics`: OpenTelemetry instruments exported in the Prometheus text format.
//! - [`traces`]: spans exported over OTLP when configured, joined to the log lines.
//! - [`fields`]: the names of log fields and spans, shared by everything that logs.
//!
//! The names are a contract with the dashboards and the log pipeline:
//! `docs/observability.md` lists them all.

mod bunyan;
pub mod fields;
mod log_sink;
mod logging;
mod metrics;
pub mod traces;

pub use log_sink::LogSink;
pub use logging::{TelemetryError, init_logging, subscriber, traced_subscriber};
pub use metrics::{HTTP_DURATION_BUCKETS, Metrics, method_label};
pub use traces::{Traces, TracingArgs};

/// The version every binary reports (`mathapi_build_info`, `target_info`, OpenAPI).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
