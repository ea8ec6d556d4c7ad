//! Serving one math request: parse its arguments, compute, and tell the metrics and the
//! request's log line what happened.

use std::time::Instant;

use crate::arguments::{ArgumentError, parse_argument};
use crate::problem::ProblemResponse;
use crate::request_log;
use crate::telemetry::{Metrics, fields};

/// One math request being served. It names the function and arguments on the request's log
/// line, counts refusals, and times the computation.
pub struct Call<'a> {
    function: &'static str,
    metrics: &'a Metrics,
}

impl<'a> Call<'a> {
    /// Starts a call; `arguments` is the raw form, e.g. `m=3,n=4`, as it goes to the log.
    pub fn new(function: &'static str, arguments: &str, metrics: &'a Metrics) -> Self {
        request_log::note_call(function, arguments);
        Call { function, metrics }
    }

    /// Parses one argument, refusing it (counted, and noted on the log line) when invalid.
    pub fn argument(
        &self,
        name: &'static str,
        raw: &str,
        max: u64,
    ) -> Result<u64, ProblemResponse> {
        parse_argument(name, raw, max).map_err(|e| self.reject(e))
    }

    /// Refuses a request whose path lacks the argument `name`; `usage` is the right path.
    pub fn missing(&self, name: &'static str, usage: &'static str) -> ProblemResponse {
        self.reject(ArgumentError::Missing { name, usage })
    }

    /// Counts a refused request, notes it for the log line, and returns its `400` answer.
    pub fn reject(&self, error: ArgumentError) -> ProblemResponse {
        self.metrics.record_rejection(self.function, error.reason());
        let problem = error.problem();
        request_log::note_problem(&problem);
        problem.into()
    }

    /// Runs the computation (including rendering the decimal string), timed for the metrics
    /// and the log line. At `debug`, a `computation` span also shows it on its own lines.
    pub fn compute(
        &self,
        compute: impl FnOnce() -> Result<String, ArgumentError>,
    ) -> Result<String, ProblemResponse> {
        let span = tracing::debug_span!(
            fields::COMPUTATION_SPAN,
            { fields::FUNCTION } = self.function,
            { fields::RESULT_DIGITS } = tracing::field::Empty
        );
        let started = Instant::now();
        let result = span.in_scope(compute);
        let elapsed = started.elapsed();
        self.metrics.record_computation(self.function, elapsed);
        match result {
            Ok(decimal) => {
                span.record(fields::RESULT_DIGITS, decimal.len());
                request_log::note_computation(elapsed, decimal.len());
                Ok(decimal)
            }
            Err(error) => {
                drop(span);
                Err(self.reject(error))
            }
        }
    }
}
