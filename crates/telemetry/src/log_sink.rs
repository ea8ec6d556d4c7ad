//! The buffered sink log lines are written to.
//!
//! Writing every line with its own `write(2)` cost about a third of a request's time (see
//! docs/performance.md), so lines are appended to an in-memory buffer that a writer thread
//! writes out:
//! - when it holds [`FLUSH_BYTES`],
//! - at once for a `warn` or `error` line (they are the ones an operator waits for),
//! - every [`FLUSH_INTERVAL`] at idle, so an idle service shows its last lines promptly,
//! - on [`LogSink::flush`], which the server calls at shutdown and the panic hook calls on a
//!   panic.
//!
//! Only the writer thread writes, so a request never waits for the output: a stdout pipe whose
//! reader has stopped blocks that thread alone. Meanwhile lines are kept up to
//! [`MAX_PENDING_BYTES`]; past that they are dropped and counted
//! (`mathapi_log_lines_dropped_total`, [`LogSink::dropped`]), and once a write goes through
//! again a `warn` line says how many were lost. Memory: at most two buffers of
//! [`MAX_PENDING_BYTES`] (the one being written and the one filling).
//!
//! A `kill -9` loses what is in the buffer: at most [`FLUSH_INTERVAL`] of lines, and never
//! more than [`FLUSH_BYTES`] while the output keeps up.
//!
//! Lines are never handed to another thread one by one (a measured loss on one core: the
//! hand-off cost more than the write); the caller appends under a short lock, and the writer
//! takes the whole batch.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

use crate::{Metrics, fields};

/// Buffered bytes that wake the writer.
pub const FLUSH_BYTES: usize = 32 * 1024;
/// Longest time a line waits in the buffer at idle.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Bytes of lines kept while the output does not take them; further lines are dropped.
pub const MAX_PENDING_BYTES: usize = 1024 * 1024;
/// Longest [`LogSink::flush`] waits for the output: at shutdown, a stdout nobody reads must
/// not keep the process from exiting.
pub const FLUSH_WAIT: Duration = Duration::from_secs(2);

/// A buffered, shareable destination for log lines: stdout in the servers, any writer in
/// tests. Cheap to clone; clones share the buffer.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
    /// Dropped with the last clone: the writer then writes what is left and ends.
    _closer: Arc<Closer>,
}

/// Tells the writer, when the last [`LogSink`] clone is gone, to finish up.
struct Closer(Arc<Shared>);

impl Drop for Closer {
    fn drop(&mut self) {
        lock(&self.0.state).closed = true;
        self.0.wake.notify_one();
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: a full buffer, an urgent line, a flush.
    wake: Condvar,
    /// Wakes [`LogSink::flush`] callers: a batch was written.
    written: Condvar,
    /// Lines dropped since start.
    dropped: AtomicU64,
}

#[derive(Default)]
struct State {
    buffer: Vec<u8>,
    /// The writer has been asked to write now.
    due: bool,
    /// Bytes appended since start, and how many of them the writer has finished with.
    appended: u64,
    done: u64,
    /// Drops not yet reported in a log line.
    unreported: u64,
    /// No sink is left to append: write what is buffered and end.
    closed: bool,
}

impl LogSink {
    /// Standard output, written as described in the module documentation.
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
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                buffer: Vec::with_capacity(FLUSH_BYTES * 2),
                ..State::default()
            }),
            wake: Condvar::new(),
            written: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        spawn_writer(shared.clone(), Box::new(output), interval);
        LogSink {
            _closer: Arc::new(Closer(shared.clone())),
            shared,
        }
    }

    /// Writes out everything buffered so far, waiting at most 2 s for the output (a stdout
    /// nobody reads must not keep the process from exiting).
    pub fn flush(&self) {
        let shared = &self.shared;
        let deadline = Instant::now() + FLUSH_WAIT;
        let mut state = lock(&shared.state);
        let target = state.appended;
        state.due = true;
        shared.wake.notify_one();
        while state.done < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = shared
                .written
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Lines dropped since start because the output did not take them.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Counts the dropped lines into `metrics`: `mathapi_log_lines_dropped_total`.
    pub fn observe_into(&self, metrics: &Metrics) {
        let shared = Arc::downgrade(&self.shared);
        metrics
            .meter()
            .u64_observable_counter("mathapi.log.lines_dropped")
            .with_description("Log lines dropped because the output (stdout) did not take them.")
            .with_callback(move |observer| {
                if let Some(shared) = shared.upgrade() {
                    observer.observe(shared.dropped.load(Ordering::Relaxed), &[]);
                }
            })
            .build();
    }

    fn append(&self, line: &[u8], urgent: bool) {
        let shared = &self.shared;
        let mut state = lock(&shared.state);
        if state.buffer.len() + line.len() > MAX_PENDING_BYTES {
            state.unreported += 1;
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.buffer.extend_from_slice(line);
        state.appended += line.len() as u64;
        if (urgent || state.buffer.len() >= FLUSH_BYTES) && !state.due {
            state.due = true;
            shared.wake.notify_one();
        }
    }
}

impl Shared {
    /// Waits until a batch is due (or `interval` has passed) and takes it.
    fn next_batch(&self, interval: Duration) -> Batch {
        let mut state = lock(&self.state);
        if !state.due && !state.closed {
            state = self
                .wake
                .wait_timeout(state, interval)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        state.due = false;
        Batch {
            bytes: std::mem::replace(&mut state.buffer, Vec::with_capacity(FLUSH_BYTES * 2)),
            upto: state.appended,
            lost: std::mem::take(&mut state.unreported),
            last: state.closed,
        }
    }

    /// The batch ending at `upto` is out (or failed): flush callers may return.
    fn finished(&self, upto: u64) {
        lock(&self.state).done = upto;
        self.written.notify_all();
    }
}

/// What the writer takes from the buffer in one go.
struct Batch {
    bytes: Vec<u8>,
    /// The count of appended bytes this batch ends at.
    upto: u64,
    /// Lines dropped since the last report.
    lost: u64,
    /// No sink is left: nothing comes after this batch.
    last: bool,
}

/// A poisoned lock only means another thread panicked mid-append; the bytes are still
/// usable, and losing logs over it would hide that very panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The one thread that writes to `output`, until the last sink is dropped.
fn spawn_writer(shared: Arc<Shared>, mut output: Box<dyn Write + Send>, interval: Duration) {
    let spawned = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            loop {
                let batch = shared.next_batch(interval);
                if !batch.bytes.is_empty() {
                    // A log write that fails (stdout closed, disk full) must not take the
                    // service down; there is nowhere left to report it.
                    let _ = output.write_all(&batch.bytes).and_then(|()| output.flush());
                }
                shared.finished(batch.upto);
                if batch.last {
                    return;
                }
                if batch.lost > 0 {
                    report_lost(batch.lost);
                }
            }
        });
    // Without the writer nothing is written; say so where it can still be seen.
    if let Err(error) = spawned {
        eprintln!("log-writer thread could not start: {error}");
    }
}

/// The line that owns up to dropped lines, once the output takes lines again. Through the
/// subscriber, so it is formatted like every line; it lands in the next batch.
fn report_lost(lost: u64) {
    tracing::warn!(
        { fields::DETAIL } = %format!("{lost} lines dropped: the output did not take them in time"),
        "log lines dropped"
    );
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
        sink.make_writer().write_all(&line).unwrap();
        wait_until(|| !out.text().is_empty());
        assert_eq!(
            out.text().len(),
            (lines + 1) * line.len(),
            "a full buffer is written, none of it before"
        );
        assert_eq!(out.writes(), 1, "in one write");
    }

    /// Polls `condition` until it holds (ten seconds at most).
    pub(crate) fn wait_until(condition: impl Fn() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !condition() {
            assert!(std::time::Instant::now() < deadline, "not seen in time");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// An output that takes nothing until it is opened: a pipe whose reader has stopped.
    #[derive(Clone, Default)]
    struct Stalled {
        open: Arc<(Mutex<bool>, Condvar)>,
        taken: Recorder,
    }

    impl Stalled {
        fn open(&self) {
            *self.open.0.lock().unwrap() = true;
            self.open.1.notify_all();
        }
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (open, opened) = &*self.open;
            let mut guard = open.lock().unwrap();
            while !*guard {
                guard = opened.wait(guard).unwrap();
            }
            drop(guard);
            self.taken.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_output_never_blocks_a_caller_and_lines_past_the_bound_are_counted() {
        let out = Stalled::default();
        let sink = LogSink::with_interval(out.clone(), Duration::from_secs(3600));
        let line = [b'x'; 1023]
            .iter()
            .chain(b"\n")
            .copied()
            .collect::<Vec<u8>>();
        // The writer takes the first full buffer and blocks in it; the next bytes fill the
        // pending buffer up to its bound; what comes after is dropped. None of it waits.
        let sent = 3 * MAX_PENDING_BYTES / line.len();
        for _ in 0..sent {
            sink.make_writer().write_all(&line).unwrap();
        }
        let dropped = sink.dropped() as usize;
        assert!(
            dropped >= sent - 2 * MAX_PENDING_BYTES / line.len(),
            "{dropped} dropped"
        );
        // Flushing gives up after FLUSH_WAIT instead of waiting for the output for ever.
        sink.flush();
        out.open();
        sink.flush();
        let kept = out.taken.text().len() / line.len();
        assert_eq!(
            kept + dropped,
            sent,
            "every line is either written or counted"
        );
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
