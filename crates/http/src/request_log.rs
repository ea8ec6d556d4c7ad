//! What a handler tells the request's one log line: the function and its arguments, the
//! computation time, the cache outcome, and the problem it answered with.
//!
//! The middleware writes exactly one `request completed` line per request, after the
//! handler has returned; the handler's facts reach it through a task-local record that the
//! middleware opens around the handler ([`RequestRecord::collect`]). Outside a request (a unit
//! test calling a handler directly, the command line) the `note_*` functions do nothing.

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;

use crate::arguments::echo;
use crate::problem::{Problem, bounded};

tokio::task_local! {
    static CURRENT: RefCell<RequestRecord>;
}

/// The facts a handler gathered about one request. Every string in it is bounded, so a
/// hostile request cannot make a large log line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RequestRecord {
    /// `fibonacci`, `factorial`, `ackermann` or `sequence`.
    pub function: Option<&'static str>,
    /// The raw arguments as received (`n=10`, `m=3,n=4`) or the stepper operation.
    pub arguments: Option<String>,
    /// Time spent computing and rendering the result.
    pub compute: Option<Duration>,
    /// Decimal digits of the result.
    pub result_digits: Option<usize>,
    /// `hit` or `miss` in the render cache.
    pub cache: Option<&'static str>,
    /// The problem's machine-readable reason (`out_of_range`, …).
    pub reason: Option<String>,
    /// The problem's detail.
    pub detail: Option<String>,
    /// The fault injected for a demonstration (`latency`, `error`, `latency+error`).
    pub fault: Option<&'static str>,
    /// Whether the answer is a computed math result, which never changes: the middleware
    /// may cache it and marks it immutable.
    pub cacheable: bool,
}

/// Longest `arguments` value kept: a raw path segment can be kilobytes long.
const ARGUMENTS_LIMIT: usize = 2 * crate::arguments::ECHO_LIMIT;

impl RequestRecord {
    /// Runs `handler` with an empty record in scope, and returns its output with the record
    /// the handler filled in. (The record is taken while still in scope, as the handler
    /// completes: the future is no larger than the handler's own.)
    pub(crate) fn collect<F: Future>(
        handler: F,
    ) -> impl Future<Output = (F::Output, RequestRecord)> {
        let taken = handler.map(|output| (output, CURRENT.with(RefCell::take)));
        CURRENT.scope(RefCell::new(RequestRecord::default()), taken)
    }

    /// The record of a request answered with `problem` before any handler saw it.
    pub(crate) fn of_problem(problem: &Problem) -> Self {
        let mut record = RequestRecord::default();
        record.note_problem(problem);
        record
    }

    fn note_problem(&mut self, problem: &Problem) {
        self.reason.clone_from(&problem.reason);
        // Problems cut what they repeat of the request; this bounds the line all the same.
        self.detail = Some(bounded(&problem.detail));
    }

    /// Computation time in milliseconds, at microsecond precision (enough for a latency, and
    /// short in the log).
    pub fn compute_ms(&self) -> Option<f64> {
        self.compute.map(|d| d.as_micros() as f64 / 1e3)
    }
}

fn with_current(change: impl FnOnce(&mut RequestRecord)) {
    // Outside a request there is nothing to note.
    let _ = CURRENT.try_with(|record| change(&mut record.borrow_mut()));
}

/// Notes which function the request called, with its raw arguments.
pub fn note_call(function: &'static str, arguments: &str) {
    with_current(|record| {
        record.function = Some(function);
        record.arguments = Some(match arguments.len() > ARGUMENTS_LIMIT {
            true => echo(arguments),
            false => arguments.to_owned(),
        });
    });
}

/// Runs `use_arguments` on the arguments noted so far, if any.
pub(crate) fn with_arguments(use_arguments: impl FnOnce(&str)) {
    let _ = CURRENT.try_with(|record| {
        if let Some(arguments) = record.borrow().arguments.as_deref() {
            use_arguments(arguments);
        }
    });
}

/// Notes a successful computation: its duration, the size of its result, and that the
/// answer may be cached.
pub(crate) fn note_computation(duration: Duration, result_digits: usize) {
    with_current(|record| {
        record.compute = Some(duration);
        record.result_digits = Some(result_digits);
        record.cacheable = true;
    });
}

/// Notes the problem the request is answered with (its `reason` and `detail` go on the log
/// line).
pub fn note_problem(problem: &Problem) {
    with_current(|record| record.note_problem(problem));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_fills_the_record_the_middleware_reads() {
        let (output, record) = RequestRecord::collect(async {
            note_call("factorial", "n=5");
            note_computation(Duration::from_micros(1500), 3);
            7
        })
        .await;
        assert_eq!(output, 7);
        assert_eq!(record.function, Some("factorial"));
        assert_eq!(record.arguments.as_deref(), Some("n=5"));
        assert_eq!(record.compute_ms(), Some(1.5));
        assert_eq!(record.result_digits, Some(3));
        assert!(record.cacheable);
    }

    #[tokio::test]
    async fn long_arguments_are_cut() {
        let raw = format!("n={}", "9".repeat(10_000));
        let (_, record) = RequestRecord::collect(async { note_call("fibonacci", &raw) }).await;
        let kept = record.arguments.unwrap();
        assert!(kept.len() < 200, "{} bytes kept", kept.len());
        assert!(kept.starts_with("n=999"));
    }

    #[tokio::test]
    async fn outside_a_request_notes_are_ignored() {
        // Notes made outside any request neither panic nor reach a later request's record.
        note_call("fibonacci", "n=1");
        note_computation(Duration::from_micros(1), 1);
        note_problem(&Problem::typed(
            poem::http::StatusCode::BAD_REQUEST,
            "outside",
            "Outside",
            "noted outside a request",
        ));
        let mut seen = None;
        with_arguments(|arguments| seen = Some(arguments.to_owned()));
        assert_eq!(seen, None, "arguments noted outside a request were kept");
        let ((), record) = RequestRecord::collect(async {}).await;
        assert_eq!(record.function, None);
        assert_eq!(record.arguments, None);
        assert_eq!(record.compute, None);
        assert_eq!(record.result_digits, None);
        assert_eq!(record.reason, None);
        assert_eq!(record.detail, None);
        assert!(!record.cacheable);
    }
}
