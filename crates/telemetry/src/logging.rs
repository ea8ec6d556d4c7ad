//! The process-wide logger: Bunyan JSON lines ([`BunyanLayer`]), one `request completed`
//! line per request at `info`; with traces on, the layer that turns warnings and errors
//! inside a sampled request into span events next to it ([`traced_subscriber`]).
//!
//! At `info` the request span exists only so that the lines logged while a request is handled
//! carry its `request_id`; spans write `START`/`END` lines of their own only at `debug` or
//! finer. The middleware writes the request's one line itself, with everything the handler
//! noted.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use super::bunyan::BunyanLayer;
use super::traces::Traces;

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `RUST_LOG` / `--log-level` does not parse.
    #[error("invalid log filter {filter:?}: {source}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// What is wrong with it.
        source: tracing_subscriber::filter::ParseError,
    },
    /// Something installed a global logger first.
    #[error("a global logger is already installed: {0}")]
    AlreadyInstalled(String),
    /// The Prometheus exporter could not be set up.
    #[error("metrics exporter: {0}")]
    Exporter(String),
}

/// The subscriber every binary logs through: `filter` (EnvFilter syntax) over Bunyan lines
/// written to `sink`. Tests install it for one thread with
/// `tracing::subscriber::set_default` to read the lines a real server writes.
pub fn subscriber<W>(
    service: &str,
    filter: &str,
    sink: W,
) -> Result<impl Subscriber + Send + Sync + 'static, TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    Ok(Registry::default()
        .with(env_filter(filter)?)
        .with(BunyanLayer::new(service, sink)))
}

/// [`subscriber`] with span events next to the log lines ([`Traces::layer`]). Here the log
/// filter is the log layer's own, not the whole subscriber's: warnings and errors the log
/// leaves out (say at `RUST_LOG=error`) still become span events. (Without traces the filter
/// stays global, which is cheaper: disabled callsites are never even visited.) The spans
/// themselves are made with the OpenTelemetry API, not from `tracing` spans.
pub fn traced_subscriber<W>(
    service: &str,
    filter: &str,
    sink: W,
    traces: &Traces,
) -> Result<impl Subscriber + Send + Sync + 'static, TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    Ok(Registry::default()
        .with(BunyanLayer::new(service, sink).with_filter(env_filter(filter)?))
        .with(traces.layer()))
}

fn env_filter(filter: &str) -> Result<EnvFilter, TelemetryError> {
    EnvFilter::try_new(filter).map_err(|source| TelemetryError::Filter {
        filter: filter.to_owned(),
        source,
    })
}

/// Installs [`subscriber`] (or, when `traces` are on, its variant that exports spans too) for
/// the whole process. Dependencies that log through the `log` crate end up in the same stream.
pub fn init_logging<W>(
    service: &str,
    filter: &str,
    sink: W,
    traces: Option<&Traces>,
) -> Result<(), TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let installed = match traces {
        Some(traces) => tracing::subscriber::set_global_default(traced_subscriber(
            service, filter, sink, traces,
        )?),
        None => tracing::subscriber::set_global_default(subscriber(service, filter, sink)?),
    };
    installed.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    tracing_log::LogTracer::init().map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogSink;
    use crate::log_sink::tests::{Recorder, wait_until};
    use serde_json::Value;
    use std::time::Duration;

    fn lines(out: &Recorder) -> Vec<Value> {
        out.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn info_spans_write_no_lines_but_give_their_fields_to_events() {
        let out = Recorder::default();
        let sink = LogSink::with_interval(out.clone(), Duration::from_secs(3600));
        let subscriber = subscriber("test", "info", sink.clone()).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("http_request", request_id = "abc");
            span.in_scope(|| tracing::warn!(reason = "x", "inside"));
            tracing::info!(request_id = "abc", "request completed");
        });
        sink.flush();
        let lines = lines(&out);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["msg"], "[HTTP_REQUEST - EVENT] inside");
        assert_eq!(lines[0]["request_id"], "abc");
        assert_eq!(lines[0]["level"], 40);
        assert_eq!(lines[1]["msg"], "request completed");
        for core in ["v", "name", "msg", "level", "hostname", "pid", "time"] {
            assert!(lines[1].get(core).is_some(), "{core} missing: {}", lines[1]);
        }
    }

    #[test]
    fn debug_spans_write_start_and_end_lines_at_debug() {
        let out = Recorder::default();
        let sink = LogSink::with_interval(out.clone(), Duration::from_secs(3600));
        let subscriber = subscriber("test", "debug", sink.clone()).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug_span!("computation").in_scope(|| {});
        });
        sink.flush();
        let messages: Vec<Value> = lines(&out).iter().map(|l| l["msg"].clone()).collect();
        assert_eq!(
            messages,
            ["[COMPUTATION - START]", "[COMPUTATION - END]"].map(Value::from)
        );
    }

    #[test]
    fn warnings_are_written_at_once_info_lines_wait() {
        let out = Recorder::default();
        let sink = LogSink::with_interval(out.clone(), Duration::from_secs(3600));
        let subscriber = subscriber("test", "info", sink).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("first");
            assert_eq!(out.text(), "", "an info line waits in the buffer");
            tracing::warn!("second");
        });
        // An hour's idle interval: only the warning can have woken the writer.
        wait_until(|| out.text().lines().count() == 2);
        let messages: Vec<Value> = lines(&out).iter().map(|l| l["msg"].clone()).collect();
        assert_eq!(messages, ["first", "second"].map(Value::from));
    }

    #[test]
    fn a_bad_filter_is_refused() {
        assert!(matches!(
            subscriber("test", "info,=[", LogSink::new(std::io::sink())),
            Err(TelemetryError::Filter { .. })
        ));
    }
}
