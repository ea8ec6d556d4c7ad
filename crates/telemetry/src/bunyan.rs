//! Bunyan JSON lines, written straight into one buffer per line.
//!
//! The format is `tracing-bunyan-formatter`'s, field for field (a test compares the two on
//! the same events): the Bunyan core fields `v`, `name`, `msg`, `level`, `hostname`, `pid`,
//! `time`, then `target`, `line`, `file`, the event's fields and the fields of the spans it
//! is in; an event inside a span has `msg` `[SPAN_NAME - EVENT] message`; spans at `debug`
//! or finer also write `[SPAN_NAME - START]` and `[SPAN_NAME - END]` lines, the latter with
//! `elapsed_milliseconds`.
//!
//! Why not that crate itself: formatting one line with it cost about 23,000 instructions
//! (more than a whole request to a bare poem handler, 17,600), most of it hashing field
//! names into a `HashMap<&str, serde_json::Value>` per event and per span
//! (docs/performance.md). Here a span's fields are serialized once, when it opens, and every
//! line inside it copies those bytes.

use std::fmt::{self, Write as _};
use std::io::Write;
use std::time::{Instant, SystemTime};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Whether the format owns the field name `name` (an event or span field of that name is left
/// out): `v`, `name`, `msg`, `level`, `hostname`, `pid`, `time`, `target`, `line`, `file`.
/// (A `match`, not a search of a list: it is asked for every field of every line.)
fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "v" | "name" | "msg" | "level" | "hostname" | "pid" | "time" | "target" | "line" | "file"
    )
}

/// Room for a whole request line (about 500 bytes, 560 with the trace ids) in one allocation.
const LINE_CAPACITY: usize = 768;
/// Room for the fields of a request line (about 250 bytes) in one allocation.
const FIELDS_CAPACITY: usize = 384;

/// Writes Bunyan lines for events (and for `debug` or finer spans) to a sink.
pub struct BunyanLayer<W> {
    sink: W,
    /// `{"v":0,"name":"…",` — the same for every line.
    head: String,
    /// `"hostname":"…","pid":…,` — the same for every line.
    process: String,
}

impl<W> BunyanLayer<W> {
    /// Lines named `service`, written to `sink`.
    pub fn new(service: &str, sink: W) -> Self {
        let hostname = gethostname::gethostname().to_string_lossy().into_owned();
        BunyanLayer {
            sink,
            head: format!("{{\"v\":0,\"name\":{},", json_string(service)),
            process: format!(
                "\"hostname\":{},\"pid\":{},",
                json_string(&hostname),
                std::process::id()
            ),
        }
    }
}

/// A span's fields as JSON members (`,"key":value…`), its own after its parent's, and when
/// it opened.
struct SpanFields {
    json: String,
    opened: Instant,
}

impl<S, W> Layer<S> for BunyanLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut json = span
            .parent()
            .and_then(|parent| {
                let extensions = parent.extensions();
                extensions.get::<SpanFields>().map(|f| f.json.clone())
            })
            .unwrap_or_default();
        attrs.record(&mut JsonMembers::of_span(&mut json));
        span.extensions_mut().insert(SpanFields {
            json,
            opened: Instant::now(),
        });
        if is_fine(span.metadata().level()) {
            self.span_line(span.metadata(), &span.extensions(), "START");
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut JsonMembers::of_span(&mut fields.json));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if is_fine(span.metadata().level()) {
            self.span_line(span.metadata(), &span.extensions(), "END");
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut message = None;
        let mut fields = String::with_capacity(FIELDS_CAPACITY);
        event.record(&mut EventFields {
            message: &mut message,
            members: JsonMembers::new(&mut fields),
        });
        // As Bunyan's formatter does: an event without a message is named by its target.
        let message = message.unwrap_or_else(|| event.metadata().target().to_owned());
        let current = ctx.lookup_current();
        let msg = match &current {
            Some(span) => format!("[{} - EVENT] {message}", span.name().to_uppercase()),
            None => message,
        };
        let mut line = self.start_line(&msg, event.metadata());
        line.push_str(&fields);
        if let Some(span) = &current
            && let Some(span_fields) = span.extensions().get::<SpanFields>()
        {
            line.push_str(&span_fields.json);
        }
        line.push_str("}\n");
        self.emit(&line, event.metadata());
    }
}

impl<W> BunyanLayer<W>
where
    W: for<'a> MakeWriter<'a> + 'static,
{
    /// The core fields, `target`, `line` and `file`, without the closing brace.
    fn start_line(&self, msg: &str, meta: &Metadata<'_>) -> String {
        let mut line = String::with_capacity(LINE_CAPACITY);
        line.push_str(&self.head);
        line.push_str("\"msg\":");
        push_json_string(&mut line, msg);
        let _ = write!(line, ",\"level\":{},", bunyan_level(meta.level()));
        line.push_str(&self.process);
        line.push_str("\"time\":\"");
        let _ = write!(
            line,
            "{}",
            humantime::format_rfc3339_nanos(SystemTime::now())
        );
        line.push_str("\",\"target\":");
        push_json_string(&mut line, meta.target());
        match meta.line() {
            Some(number) => {
                let _ = write!(line, ",\"line\":{number}");
            }
            None => line.push_str(",\"line\":null"),
        }
        line.push_str(",\"file\":");
        match meta.file() {
            Some(file) => push_json_string(&mut line, file),
            None => line.push_str("null"),
        }
        line
    }

    fn span_line(
        &self,
        meta: &Metadata<'_>,
        extensions: &tracing_subscriber::registry::Extensions<'_>,
        kind: &str,
    ) {
        let msg = format!("[{} - {kind}]", meta.name().to_uppercase());
        let mut line = self.start_line(&msg, meta);
        if let Some(fields) = extensions.get::<SpanFields>() {
            line.push_str(&fields.json);
            if kind == "END" {
                let elapsed = fields.opened.elapsed().as_millis();
                let _ = write!(line, ",\"elapsed_milliseconds\":{elapsed}");
            }
        }
        line.push_str("}\n");
        self.emit(&line, meta);
    }

    fn emit(&self, line: &str, meta: &Metadata<'_>) {
        // A log line that cannot be written has nowhere else to go.
        let _ = self.sink.make_writer_for(meta).write_all(line.as_bytes());
    }
}

fn is_fine(level: &Level) -> bool {
    *level > Level::INFO
}

fn bunyan_level(level: &Level) -> u8 {
    match *level {
        Level::TRACE => 10,
        Level::DEBUG => 20,
        Level::INFO => 30,
        Level::WARN => 40,
        Level::ERROR => 50,
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_json_string(&mut out, text);
    out
}

/// The bytes a JSON string cannot hold as they are (control characters, `"`, backslash), and DEL,
/// which serde_json leaves as it is but the fast path sends to it anyway: one table load per
/// byte instead of four comparisons.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

/// Appends `text` as a JSON string (quoted, escaped as serde_json escapes it).
fn push_json_string(out: &mut String, text: &str) {
    // Nearly every value (names, ids, routes, numbers as text) needs no escaping: copy it
    // straight in rather than through a temporary string.
    let plain = text.bytes().all(|b| !NEEDS_ESCAPE[usize::from(b)]);
    if plain {
        out.reserve(text.len() + 2);
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else if let Ok(quoted) = serde_json::to_string(text) {
        // serde_json never fails to serialize a str.
        out.push_str(&quoted);
    }
}

/// Appends fields as JSON members: `,"key":value`.
struct JsonMembers<'a> {
    out: &'a mut String,
    /// Leave out `otel.*` fields: on spans they configure the exported span (its name and
    /// kind), they are not log fields.
    skip_otel: bool,
}

impl<'a> JsonMembers<'a> {
    fn new(out: &'a mut String) -> Self {
        JsonMembers {
            out,
            skip_otel: false,
        }
    }

    fn of_span(out: &'a mut String) -> Self {
        JsonMembers {
            out,
            skip_otel: true,
        }
    }

    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if is_reserved(name) || (self.skip_otel && name.starts_with("otel.")) {
            return false;
        }
        self.out.push(',');
        push_json_string(self.out, field.name());
        self.out.push(':');
        true
    }
}

impl Visit for JsonMembers<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.key(field) {
            push_json_string(self.out, value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.key(field) {
            let _ = write!(self.out, "{value}");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.key(field) {
            let _ = write!(self.out, "{value}");
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.key(field) {
            // JSON has no NaN or infinity; serde_json writes them as null too.
            match serde_json::Number::from_f64(value) {
                Some(number) => {
                    let _ = write!(self.out, "{number}");
                }
                None => self.out.push_str("null"),
            }
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.key(field) {
            self.out.push_str(if value { "true" } else { "false" });
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.key(field) {
            push_json_string(self.out, &format!("{value:?}"));
        }
    }
}

/// An event's fields: `message` apart (it becomes `msg`), the rest as JSON members.
struct EventFields<'a> {
    message: &'a mut Option<String>,
    members: JsonMembers<'a>,
}

impl Visit for EventFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => *self.message = Some(value.to_owned()),
            _ => self.members.record_str(field, value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.members.record_u64(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.members.record_i64(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.members.record_f64(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.members.record_bool(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => *self.message = Some(format!("{value:?}")),
            _ => self.members.record_debug(field, value),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;
    use tracing_subscriber::Registry;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::LogSink;
    use crate::log_sink::tests::Recorder;

    /// The same events, spans and fields every way a service logs them.
    fn emit_everything() {
        tracing::info!(
            count = 3u64,
            ratio = 0.25,
            ok = true,
            negative = -7i64,
            "plain"
        );
        tracing::warn!(detail = %"with \"quotes\" and\nnewline", "escaped é ✓");
        tracing::info!(target: "custom_target", answer = 42u64);
        let request = tracing::info_span!("http_request", request_id = "abc-123");
        request.in_scope(|| {
            tracing::error!(panic = "boom", "handler panicked");
            let computation = tracing::debug_span!(
                "computation",
                function = "factorial",
                result_digits = tracing::field::Empty
            );
            computation.in_scope(|| tracing::debug!(step = 1u64, "inside both"));
            computation.record("result_digits", 3u64);
            drop(computation);
        });
        tracing::info!(
            request_id = "abc-123",
            http_route = Some("/fibonacci/{n}/"),
            compute_ms = Some(0.012),
            cache = None::<&str>,
            "request completed"
        );
    }

    /// Every line `subscriber` writes for [`emit_everything`], parsed.
    fn lines_of(
        subscriber: impl tracing::Subscriber + Send + Sync,
        sink: &LogSink,
        out: &Recorder,
    ) -> Vec<Value> {
        tracing::subscriber::with_default(subscriber, emit_everything);
        sink.flush();
        out.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
        for text in [
            "plain",
            "",
            "quote \" here",
            "back\\slash",
            "tab\t",
            "nul\u{0}",
            "del\u{7f}",
            "é ✓ 🦀",
            "\u{1b}[31m",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, text);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn lines_match_tracing_bunyan_formatter_field_for_field() {
        let ours_out = Recorder::default();
        let ours_sink = LogSink::with_interval(ours_out.clone(), Duration::from_secs(3600));
        let ours = Registry::default()
            .with(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with(BunyanLayer::new("svc", ours_sink.clone()));
        let theirs_out = Recorder::default();
        let theirs_sink = LogSink::with_interval(theirs_out.clone(), Duration::from_secs(3600));
        let theirs = Registry::default()
            .with(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with(tracing_bunyan_formatter::JsonStorageLayer)
            .with(tracing_bunyan_formatter::BunyanFormattingLayer::new(
                "svc".into(),
                theirs_sink.clone(),
            ));

        let mut ours = lines_of(ours, &ours_sink, &ours_out);
        let mut theirs = lines_of(theirs, &theirs_sink, &theirs_out);
        // The info span's START/END lines are the one intended difference: at info a request
        // writes one line (see `logging`).
        theirs.retain(|line| {
            let msg = line["msg"].as_str().unwrap();
            msg != "[HTTP_REQUEST - START]" && msg != "[HTTP_REQUEST - END]"
        });
        assert_eq!(
            ours.len(),
            theirs.len(),
            "ours {ours:#?}\ntheirs {theirs:#?}"
        );
        assert_eq!(ours.len(), 8, "every event and debug span line: {ours:#?}");
        assert!(
            ours.iter()
                .any(|line| line.get("elapsed_milliseconds").is_some()),
            "the computation span's END line says how long it was open: {ours:#?}"
        );
        for (mine, reference) in ours.iter_mut().zip(theirs.iter_mut()) {
            // How long a span was open differs between the two runs: END lines must both
            // have it, as a whole number of milliseconds; every other field must be equal.
            assert_eq!(
                mine.get("elapsed_milliseconds").is_some(),
                reference.get("elapsed_milliseconds").is_some(),
                "ours {mine}\ntheirs {reference}"
            );
            for line in [&mut *mine, &mut *reference] {
                let fields = line.as_object_mut().unwrap();
                let time = fields.remove("time").unwrap();
                assert!(
                    humantime::parse_rfc3339(time.as_str().unwrap()).is_ok(),
                    "{time}"
                );
                if let Some(elapsed) = fields.remove("elapsed_milliseconds") {
                    assert!(elapsed.is_u64(), "a non-negative integer: {elapsed}");
                }
            }
            assert_eq!(mine, reference);
        }
    }
}
