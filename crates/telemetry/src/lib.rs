//! Logs, metrics and traces of the mathapi servers.
//!
//! Every server logs one Bunyan JSON line per request through a buffered sink, exports its
//! metrics in the Prometheus text format, and exports the spans of its requests over OTLP
//! when an endpoint is configured. The names of log fields, spans and instruments are a
//! contract with the dashboards and the log pipeline: `docs/observability.md` lists them all.
//!
//! # Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `logging` | the process-wide subscriber: filter, log layer, span-events layer when traces are on ([`init_logging`]) |
//! | `bunyan` | the Bunyan JSON line format (`tracing-bunyan-formatter`'s, written faster) |
//! | `pretty` | short human lines for a terminal, made from the Bunyan ones ([`LogFormat`], [`PrettyLines`]) |
//! | `log_sink` | the buffered sink that keeps write syscalls off the hot path ([`LogSink`]) |
//! | `metrics` | OpenTelemetry instruments exported in the Prometheus text format ([`Metrics`]) |
//! | [`traces`] | spans exported over OTLP when configured, joined to the log lines ([`Traces`]) |
//! | [`fields`] | the names of log fields and spans, shared by everything that logs |

mod bunyan;
pub mod fields;
mod in_flight;
mod log_sink;
mod logging;
mod metrics;
mod pretty;
pub mod traces;

pub use log_sink::LogSink;
pub use logging::{TelemetryError, init_logging, subscriber};
pub use metrics::{Metrics, method_label};
pub use pretty::{LogFormat, PrettyLines};
pub use traces::{Traces, TracingArgs};

/// The version every binary reports (`mathapi_build_info`, `target_info`, OpenAPI).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
