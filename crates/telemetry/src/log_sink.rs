//! The buffered sink log lines are written to.
//!
//! Writing every line with its own `write(2)` cost about a third of a request's time (see
//! docs/performance.md), so lines are appended to an in-memory buffer that is written out:
//! - when it holds [`FLUSH_BYTES`],
//! - at once for a `warn` or `error` line (they are the ones an operator waits for),
//! - every [`FLUSH_INTERVAL`] by a background thread, so an idle service shows its last lines
//!   promptly,
//! - on [`LogSink::flush`], which the server calls at shutdown and the panic hook calls on a
//!   panic.
//!
//! A `kill -9` loses what is in the buffer: at most [`FLUSH_INTERVAL`] of lines, and never
//! more than [`FLUSH_BYTES`].
//!
//! Lines are never handed to another thread one by one (a measured loss on one core: the
//! hand-off cost more than the write); the caller appends under a short lock, and whoever
//! flushes writes the whole batch.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Buffered bytes that trigger a write.
pub const FLUSH_BYTES: usize = 32 * 1024;
/// Longest time a line waits in the buffer at idle.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);

/// A buffered, shareable destination for log lines: stdout in the servers, any writer in
/// tests. Cheap to clone; clones share the buffer.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

struct Shared {
    buffer: Mutex<Vec<u8>>,
    // Locked before `buffer` when flushing, so batches reach the output in order.
    output: Mutex<Box<dyn Write + Send>>,
}

impl LogSink {
    /// Standard output, flushed as described in the module documentation.
    pub fn stdout() -> Self {
        Self::new(io::stdout())
    }

    /// Any writer, written to at 32 KiB, at once for a warning or an error, and every 50 ms
    /// at idle.
    pub fn new(output: impl Write + Send + 'static) -> Self {
        Self::with_interval(output, FLUSH_INTERVAL)
    }

    /// Any writer, with another idle deadline than the usual 50 ms.
    pub fn with_interval(output: impl Write + Send + 'static, interval: Duration) -> Self {
        let sink = LogSink {
            shared: Arc::new(Shared {
                buffer: Mutex::new(Vec::with_capacity(FLUSH_BYTES * 2)),
                output: Mutex::new(Box::new(output)),
            }),
        };
        spawn_flusher(Arc::downgrade(&sink.shared), interval);
        sink
    }

    /// Writes out everything buffered so far.
    pub fn flush(&self) {
        self.shared.flush();
    }

    fn append(&self, line: &[u8], urgent: bool) {
        let full = {
            let mut buffer = lock(&self.shared.buffer);
            buffer.extend_from_slice(line);
            buffer.len() >= FLUSH_BYTES
        };
        if full || urgent {
            self.shared.flush();
        }
    }
}

impl Shared {
    fn flush(&self) {
        let mut output = lock(&self.output);
        let batch = std::mem::replace(
            &mut *lock(&self.buffer),
            Vec::with_capacity(FLUSH_BYTES * 2),
        );
        if batch.is_empty() {
            return;
        }
        // A log write that fails (stdout closed, disk full) must not take the service down;
        // there is nowhere left to report it.
        let _ = output.write_all(&batch);
        let _ = output.flush();
    }

    fn has_lines(&self) -> bool {
        !lock(&self.buffer).is_empty()
    }
}

/// A poisoned lock only means another thread panicked mid-append; the bytes are still
/// usable, and losing logs over it would hide that very panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Flushes every `interval` while the sink lives.
fn spawn_flusher(shared: Weak<Shared>, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("log-flusher".into())
        .spawn(move || {
            loop {
                std::thread::sleep(interval);
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if shared.has_lines() {
                    shared.flush();
                }
            }
        });
    // Without the thread, lines still go out when the buffer fills, on warnings and at
    // shutdown; only the idle deadline is lost.
    if let Err(error) = spawned {
        eprintln!("log-flusher thread could not start: {error}");
    }
}

/// The writer the formatter gets for one line.
pub struct LineWriter<'a> {
    sink: &'a LogSink,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.sink.append(line, self.urgent);
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogSink {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            sink: self,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            sink: self,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A writer that shares what was written, and counts the writes.
    #[derive(Clone, Default)]
    pub(crate) struct Recorder(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut inner = self.0.lock().unwrap();
            inner.0.extend_from_slice(buf);
            inner.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Recorder {
        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
        pub(crate) fn writes(&self) -> usize {
            self.0.lock().unwrap().1
        }
    }

    #[test]
    fn info_lines_are_batched_until_the_buffer_fills() {
        let out = Recorder::default();
        let sink = LogSink::with_interval(out.clone(), Duration::from_secs(3600));
        let line = [b'x'; 99].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        let lines = FLUSH_BYTES / line.len();
        for _ in 0..lines {
            sink.make_writer().write_all(&line).unwrap();
        }
        assert_eq!(out.writes(), 0, "{lines} lines fit in the buffer");
        sink.make_writer().write_all(&line).unwrap();
        assert_eq!(
            out.text().len(),
            (lines + 1) * line.len(),
            "a full buffer is written"
        );
        assert_eq!(out.writes(), 1, "in one write");
    }

    #[test]
    fn an_idle_line_is_written_within_the_interval() {
        let out = Recorder::default();
        let sink = LogSink::new(out.clone());
        sink.make_writer().write_all(b"idle\n").unwrap();
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 20;
        while out.text().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(out.text(), "idle\n");
    }

    #[test]
    fn flush_writes_everything_buffered() {
        let out = Recorder::default();
        let sink = LogSink::with_interval(out.clone(), Duration::from_secs(3600));
        sink.make_writer().write_all(b"a\n").unwrap();
        sink.make_writer().write_all(b"b\n").unwrap();
        sink.flush();
        assert_eq!(out.text(), "a\nb\n");
    }
}
