//! Short, human-readable log lines for a terminal (`--log-format pretty`, or `auto` when
//! stdout is one): `12:04:05.123  INFO request completed  GET /fibonacci/{n}/ 200 0.4 ms
//! id=…`. The lines are the Bunyan lines turned round at the output ([`PrettyLines`]), so
//! both formats carry the same facts and the request path pays nothing for the choice.

use std::io::{self, Write};

use serde_json::Value;

use crate::fields;

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// `pretty` when stdout is a terminal, else `json`.
    #[default]
    Auto,
    /// Bunyan JSON lines: what a log shipper reads.
    Json,
    /// Short lines for people: time, level, message, the request line's key fields.
    Pretty,
}

impl LogFormat {
    /// `Json` or `Pretty`: `Auto` decided by whether stdout is a terminal.
    pub fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if io::IsTerminal::is_terminal(&io::stdout()) => LogFormat::Pretty,
            LogFormat::Auto => LogFormat::Json,
            format => format,
        }
    }
}

/// A writer that turns every complete Bunyan line written to it into a pretty one on `inner`
/// (a line that is not Bunyan JSON passes through unchanged).
pub struct PrettyLines<W> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> PrettyLines<W> {
    /// Pretty lines on `inner`.
    pub fn new(inner: W) -> Self {
        PrettyLines {
            inner,
            pending: Vec::new(),
        }
    }
}

impl<W: Write> Write for PrettyLines<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') else {
            return Ok(bytes.len());
        };
        let mut out = String::new();
        for line in self.pending[..end].split(|b| *b == b'\n') {
            out.push_str(&pretty(&String::from_utf8_lossy(line)));
            out.push('\n');
        }
        self.pending.drain(..=end);
        self.inner.write_all(out.as_bytes())?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One Bunyan line as a pretty one.
pub fn pretty(line: &str) -> String {
    let Ok(Value::Object(record)) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    let text = |key: &str| match record.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let time = text("time");
    // `2026-12-04T12:04:05.123456Z` → `12:04:05.123`
    let clock = time.get(11..23).unwrap_or(&time);
    let level = match record.get("level").and_then(Value::as_u64) {
        Some(60..) => "FATAL",
        Some(50..) => "ERROR",
        Some(40..) => "WARN",
        Some(30..) => "INFO",
        Some(20..) => "DEBUG",
        _ => "TRACE",
    };
    let mut out = format!("{clock} {level:>5} {}", text("msg"));
    if record.contains_key(fields::HTTP_STATUS) {
        let route = match text(fields::HTTP_ROUTE) {
            route if route.is_empty() => text(fields::URL_PATH),
            route => route,
        };
        out.push_str(&format!(
            "  {} {route} {} {} ms",
            text(fields::HTTP_METHOD),
            text(fields::HTTP_STATUS),
            text(fields::LATENCY_MS)
        ));
    }
    for key in [
        fields::REASON,
        fields::DETAIL,
        "error",
        "address",
        "signal",
        fields::REQUEST_ID,
    ] {
        let value = text(key);
        if !value.is_empty() {
            out.push_str(&format!("  {key}={value}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_shows_its_key_fields() {
        let line = r#"{"v":0,"name":"mathapi","msg":"request completed","level":30,"hostname":"h","pid":1,"time":"2026-12-04T12:04:05.123456Z","request_id":"abc","http_method":"GET","url_path":"/fibonacci/10/","http_route":"/fibonacci/{n}/","http_status":200,"latency_ms":0.4}"#;
        assert_eq!(
            pretty(line),
            "12:04:05.123  INFO request completed  GET /fibonacci/{n}/ 200 0.4 ms  request_id=abc"
        );
    }

    #[test]
    fn other_lines_keep_level_time_and_message() {
        let line = r#"{"msg":"listening","level":30,"time":"2026-12-04T12:04:05.123Z","address":"127.0.0.1:8000"}"#;
        assert_eq!(
            pretty(line),
            "12:04:05.123  INFO listening  address=127.0.0.1:8000"
        );
        assert_eq!(pretty("not json"), "not json");
    }

    #[test]
    fn partial_lines_wait_for_their_end() {
        let mut out = PrettyLines::new(Vec::new());
        out.write_all(br#"{"msg":"a","level":50,"time":"2026-12-04T12:04:05.123Z"}"#)
            .unwrap();
        assert!(out.inner.is_empty());
        out.write_all(b"\nplain\n").unwrap();
        assert_eq!(
            String::from_utf8(out.inner).unwrap(),
            "12:04:05.123 ERROR a\nplain\n"
        );
    }
}
