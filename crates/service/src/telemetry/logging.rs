//! The process-wide logger: Bunyan JSON lines, one `request completed` line per request.
//!
//! `tracing-bunyan-formatter` writes the lines. It would also write a `START` and an `END`
//! line for every span; at `info` the request span exists only so that the lines logged while
//! a request is handled carry its `request_id`, so span lines are written for `debug` and
//! finer spans only ([`EventsAndFineSpans`]). The middleware writes the request's one line
//! itself, with everything the handler noted.

use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_bunyan_formatter::{BunyanFormattingLayer, JsonStorageLayer};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Registry};

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
    let env_filter = EnvFilter::try_new(filter).map_err(|source| TelemetryError::Filter {
        filter: filter.to_owned(),
        source,
    })?;
    Ok(Registry::default()
        .with(env_filter)
        .with(JsonStorageLayer)
        .with(EventsAndFineSpans(BunyanFormattingLayer::new(
            service.to_owned(),
            sink,
        ))))
}

/// Installs [`subscriber`] for the whole process. Dependencies that log through the `log`
/// crate end up in the same stream.
pub fn init_logging<W>(service: &str, filter: &str, sink: W) -> Result<(), TelemetryError>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing::subscriber::set_global_default(subscriber(service, filter, sink)?)
        .map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    tracing_log::LogTracer::init().map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}

/// Passes events on to the formatter, and span `START`/`END` lines only for spans at `debug`
/// or finer: at `info` a request writes its one line, not three.
struct EventsAndFineSpans<L>(L);

fn is_fine(level: &Level) -> bool {
    *level > Level::INFO
}

impl<S, L> Layer<S> for EventsAndFineSpans<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.0.on_event(event, ctx);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if is_fine(attrs.metadata().level()) {
            self.0.on_new_span(attrs, id, ctx);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let fine = ctx.metadata(&id).is_some_and(|meta| is_fine(meta.level()));
        if fine {
            self.0.on_close(id, ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::LogSink;
    use crate::telemetry::log_sink::tests::Recorder;
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
