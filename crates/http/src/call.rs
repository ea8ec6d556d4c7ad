//! Serving one math request: parse its arguments, compute, and tell the metrics and the
//! request's log line what happened.

use std::time::Instant;

use mathapi_telemetry::traces;
use opentelemetry::KeyValue;
use poem::http::StatusCode;

use crate::arguments::{ArgumentError, parse_argument};
use crate::limits::{self, Cost, Shed};
use crate::problem::{Problem, ProblemResponse};
use crate::request_log;
use mathapi_telemetry::{Metrics, fields};

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
    /// and the log line; `cost` says whether it may run inline or must go through the
    /// compute limit ([`ComputeLimit`](crate::ComputeLimit)), which may shed it with a `503`. At `debug`, a
    /// `computation` span also shows it on its own lines; in a sampled request, a
    /// `computation` span is exported as a child of the request's server span.
    pub async fn compute(
        &self,
        cost: Cost,
        compute: impl FnOnce() -> Result<String, ArgumentError> + Send + 'static,
    ) -> Result<String, ProblemResponse> {
        let span = tracing::debug_span!(
            fields::COMPUTATION_SPAN,
            { fields::FUNCTION } = self.function,
            { fields::ARGUMENTS } = tracing::field::Empty,
            { fields::RESULT_DIGITS } = tracing::field::Empty
        );
        let traced = traces::computation_span(self.function);
        // A disabled span (the usual case: `info` logs) costs no copy.
        if !span.is_disabled() || traced.is_some() {
            request_log::with_arguments(|arguments| {
                span.record(fields::ARGUMENTS, arguments);
                if let Some(traced) = &traced {
                    traced.arguments(arguments);
                }
            });
        }
        let timed = {
            let span = span.clone();
            // The exported span is current while the computation runs, wherever it runs:
            // warnings logged by it become its events.
            let context = traced.as_ref().map(|traced| traced.context().clone());
            move || {
                let _current = context.map(opentelemetry::Context::attach);
                let started = Instant::now();
                let result = span.in_scope(compute);
                (result, started.elapsed())
            }
        };
        let (result, elapsed) = limits::run(cost, timed)
            .await
            .map_err(|shed| self.shed(shed))?;
        self.metrics.record_computation(self.function, elapsed);
        match result {
            Ok(decimal) => {
                span.record(fields::RESULT_DIGITS, decimal.len());
                if let Some(traced) = traced {
                    traced.finish(decimal.len());
                }
                request_log::note_computation(elapsed, decimal.len());
                Ok(decimal)
            }
            Err(error) => {
                drop(span);
                drop(traced);
                Err(self.reject(error))
            }
        }
    }

    /// Counts a shed request, notes it for the log line, and returns its `503` answer.
    fn shed(&self, shed: Shed) -> ProblemResponse {
        let reason = shed.reason.as_str();
        // The instrument is looked up by name each time: sheds are rare, and the lookup
        // keeps the shared `Metrics` type free of one field per module.
        self.metrics
            .meter()
            .u64_counter(SHED_REQUESTS)
            .with_description("Requests answered 503 without computing, by reason.")
            .build()
            .add(1, &[KeyValue::new("reason", reason)]);
        let problem = Problem::typed(
            StatusCode::SERVICE_UNAVAILABLE,
            reason,
            "Service overloaded",
            format!(
                "every computation slot is busy and the queue is full; retry after {} s",
                shed.retry_after.as_secs().max(1)
            ),
        );
        request_log::note_problem(&problem);
        ProblemResponse::unavailable(problem, shed.retry_after)
    }
}

/// The counter of shed requests (`mathapi_shed_requests_total` in Prometheus).
pub const SHED_REQUESTS: &str = "mathapi.shed_requests";
