//! Outcome bookkeeping during a run and the closing summary (text and JSON).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::plan::{Class, Method, PlannedRequest, display_order};

/// How many mismatched requests the summary lists individually.
const MISMATCH_EXAMPLES: usize = 10;

/// A function as the summary names it: by name, in the order of the platform's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct FunctionName(pub &'static str);

impl FunctionName {
    /// The name of `request`'s function.
    pub fn of(request: &PlannedRequest) -> Self {
        FunctionName(request.function.name())
    }
}

impl Ord for FunctionName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        display_order(self.0).cmp(&display_order(other.0))
    }
}

impl PartialOrd for FunctionName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// What happened to one request.
#[derive(Debug)]
pub enum Outcome {
    /// The server answered with `status`; `latency` runs until the body was read.
    Response { status: u16, latency: Duration },
    /// No complete HTTP response (connection refused, timeout, reset, ...).
    Transport {
        kind: TransportErrorKind,
        message: String,
    },
}

/// Coarse class of a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportErrorKind {
    Connect,
    Timeout,
    Other,
}

/// Running totals of a run; turned into a [`Summary`] at the end.
#[derive(Debug)]
pub struct Stats {
    latency_us: Histogram<u64>,
    function_latency_us: BTreeMap<FunctionName, Histogram<u64>>,
    status_codes: BTreeMap<u16, u64>,
    functions: BTreeMap<FunctionName, FunctionSummary>,
    classes: BTreeMap<Class, ClassSummary>,
    transport_errors: BTreeMap<TransportErrorKind, u64>,
    first_transport_error: Option<String>,
    mismatch_examples: Vec<Mismatch>,
    responses: u64,
    mismatched: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency_us: new_histogram(),
            function_latency_us: BTreeMap::new(),
            status_codes: BTreeMap::new(),
            functions: BTreeMap::new(),
            classes: BTreeMap::new(),
            transport_errors: BTreeMap::new(),
            first_transport_error: None,
            mismatch_examples: Vec::new(),
            responses: 0,
            mismatched: 0,
        }
    }
}

fn new_histogram() -> Histogram<u64> {
    // Microseconds, 1 µs to 1 h at three significant digits; slower responses are counted as
    // 1 h (a request timeout that long is not a realistic setting).
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("the histogram bounds are valid")
}

impl Stats {
    /// Records the outcome of `request`; returns whether it was what the plan expected.
    pub fn record(&mut self, request: &PlannedRequest, outcome: &Outcome) -> bool {
        let function = self.functions.entry(FunctionName::of(request)).or_default();
        function.requests += 1;
        if request.class == Class::Valid {
            function.valid += 1;
        } else {
            function.invalid += 1;
        }
        let class = self
            .classes
            .entry(request.class)
            .or_insert_with(|| ClassSummary {
                expected_status: request.expected_status(),
                ..ClassSummary::default()
            });
        class.requests += 1;

        match outcome {
            Outcome::Response { status, latency } => {
                self.responses += 1;
                *self.status_codes.entry(*status).or_default() += 1;
                let micros = u64::try_from(latency.as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                self.latency_us.saturating_record(micros);
                self.function_latency_us
                    .entry(FunctionName::of(request))
                    .or_insert_with(new_histogram)
                    .saturating_record(micros);
                let matched = *status == request.expected_status();
                if matched {
                    class.matched += 1;
                } else {
                    self.mismatched += 1;
                    function.mismatched += 1;
                    if self.mismatch_examples.len() < MISMATCH_EXAMPLES {
                        self.mismatch_examples.push(Mismatch {
                            method: request.method,
                            path: request.path.clone(),
                            class: request.class,
                            expected: request.expected_status(),
                            actual: *status,
                        });
                    }
                }
                matched
            }
            Outcome::Transport { kind, message } => {
                function.transport_errors += 1;
                *self.transport_errors.entry(*kind).or_default() += 1;
                if self.first_transport_error.is_none() {
                    self.first_transport_error = Some(message.clone());
                }
                false
            }
        }
    }

    /// The summary of everything recorded, with the run's context.
    pub fn summarize(&self, run: RunInfo) -> Summary {
        let transport_errors: u64 = self.transport_errors.values().sum();
        let sent = self.responses + transport_errors;
        let elapsed = run.elapsed.as_secs_f64();
        let mut functions = self.functions.clone();
        for (function, summary) in &mut functions {
            if let Some(h) = self.function_latency_us.get(function) {
                summary.latency_ms = Some(Latency::from_histogram(h));
            }
        }
        Summary {
            target: run.target,
            seed: run.seed,
            target_rate: run.target_rate,
            concurrency: run.concurrency,
            interrupted: run.interrupted,
            elapsed_seconds: elapsed,
            sent,
            responses: self.responses,
            transport_errors,
            achieved_rate: if elapsed > 0.0 {
                sent as f64 / elapsed
            } else {
                0.0
            },
            slot_waits: run.slot_waits,
            latency_ms: (self.responses > 0).then(|| Latency::from_histogram(&self.latency_us)),
            status_codes: self.status_codes.clone(),
            functions,
            classes: self.classes.clone(),
            transport_error_kinds: self.transport_errors.clone(),
            first_transport_error: self.first_transport_error.clone(),
            mismatched: self.mismatched,
            mismatch_examples: self.mismatch_examples.clone(),
        }
    }
}

/// Facts about the run that the stats do not know.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub target: String,
    pub seed: u64,
    pub target_rate: Option<f64>,
    pub concurrency: u32,
    pub interrupted: bool,
    pub elapsed: Duration,
    pub slot_waits: u64,
}

/// The closing summary of a run. Serialized as-is for `--summary-json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Base URL the requests went to.
    pub target: String,
    /// Seed of the request mix; pass it to `--seed` to replay the run.
    pub seed: u64,
    /// Requested rate in requests/s; `None` for as fast as possible.
    pub target_rate: Option<f64>,
    pub concurrency: u32,
    /// Stopped by Ctrl-C (or the caller's shutdown signal) before its bound.
    pub interrupted: bool,
    /// From the first request sent to the last one finished.
    pub elapsed_seconds: f64,
    /// Requests sent (= responses + transport errors).
    pub sent: u64,
    pub responses: u64,
    pub transport_errors: u64,
    pub achieved_rate: f64,
    /// Times the pacer had a request due but all `concurrency` slots were busy.
    pub slot_waits: u64,
    /// Over every response; `None` when there was none.
    pub latency_ms: Option<Latency>,
    pub status_codes: BTreeMap<u16, u64>,
    pub functions: BTreeMap<FunctionName, FunctionSummary>,
    pub classes: BTreeMap<Class, ClassSummary>,
    pub transport_error_kinds: BTreeMap<TransportErrorKind, u64>,
    pub first_transport_error: Option<String>,
    /// Responses whose status differed from the planned one.
    pub mismatched: u64,
    pub mismatch_examples: Vec<Mismatch>,
}

impl Summary {
    /// Every request failed before getting any HTTP response.
    pub fn unreachable(&self) -> bool {
        self.sent > 0 && self.responses == 0
    }

    /// Every request got a response with the planned status.
    pub fn all_as_expected(&self) -> bool {
        self.mismatched == 0 && self.transport_errors == 0
    }
}

/// Per-function counts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FunctionSummary {
    pub requests: u64,
    pub valid: u64,
    pub invalid: u64,
    pub mismatched: u64,
    pub transport_errors: u64,
    pub latency_ms: Option<Latency>,
}

/// Per-class counts: how many were sent and how many got the expected status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassSummary {
    pub expected_status: u16,
    pub requests: u64,
    pub matched: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    fn from_histogram(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// A response whose status differed from the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Mismatch {
    pub method: Method,
    pub path: String,
    pub class: Class,
    pub expected: u16,
    pub actual: u16,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stopped = if self.interrupted {
            " (interrupted)"
        } else {
            ""
        };
        writeln!(f, "Summary: {} (seed {})", self.target, self.seed)?;
        writeln!(f, "  elapsed      {:.2} s{stopped}", self.elapsed_seconds)?;
        writeln!(
            f,
            "  requests     {} sent, {} responses, {} transport errors",
            self.sent, self.responses, self.transport_errors
        )?;
        let target = match self.target_rate {
            Some(rate) => format!("target {rate:.1}/s"),
            None => "no rate limit".to_string(),
        };
        writeln!(
            f,
            "  rate         {:.1} req/s ({target}, concurrency {})",
            self.achieved_rate, self.concurrency
        )?;
        if let Some(l) = &self.latency_ms {
            writeln!(
                f,
                "  latency      p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                l.p50, l.p90, l.p99, l.max
            )?;
        }
        let codes: Vec<String> = self
            .status_codes
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        writeln!(f, "  status       {}", or_none(&codes.join(", ")))?;
        if self.transport_errors > 0 {
            let kinds: Vec<String> = self
                .transport_error_kinds
                .iter()
                .map(|(kind, n)| format!("{}: {n}", serde_name(kind)))
                .collect();
            writeln!(f, "  transport    {}", kinds.join(", "))?;
            if let Some(first) = &self.first_transport_error {
                writeln!(f, "               first: {first}")?;
            }
        }

        writeln!(f)?;
        writeln!(
            f,
            "  {:<20} {:>8} {:>8} {:>8} {:>10} {:>9} {:>9}",
            "function", "requests", "valid", "invalid", "mismatched", "p50 ms", "p99 ms"
        )?;
        for (function, s) in &self.functions {
            let (p50, p99) = s.latency_ms.map_or(("-".into(), "-".into()), |l| {
                (format!("{:.2}", l.p50), format!("{:.2}", l.p99))
            });
            writeln!(
                f,
                "  {:<20} {:>8} {:>8} {:>8} {:>10} {:>9} {:>9}",
                function.0, s.requests, s.valid, s.invalid, s.mismatched, p50, p99
            )?;
        }

        writeln!(f)?;
        writeln!(
            f,
            "  {:<20} {:>8} {:>8} {:>8}",
            "request class", "requests", "expected", "matched"
        )?;
        for (class, s) in &self.classes {
            writeln!(
                f,
                "  {:<20} {:>8} {:>8} {:>8}",
                class.name(),
                s.requests,
                s.expected_status,
                s.matched
            )?;
        }

        writeln!(f)?;
        writeln!(
            f,
            "  mismatched   {} response(s) with an unexpected status",
            self.mismatched
        )?;
        for m in &self.mismatch_examples {
            writeln!(
                f,
                "               {} {} ({}): expected {}, got {}",
                m.method, m.path, m.class, m.expected, m.actual
            )?;
        }
        if self.slot_waits > 0 && self.target_rate.is_some() {
            writeln!(
                f,
                "  note         all {} slots were busy {} time(s) when a request was due; \
                 raise --concurrency if the achieved rate is short of the target",
                self.concurrency, self.slot_waits
            )?;
        }
        Ok(())
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

fn serde_name(kind: &TransportErrorKind) -> &'static str {
    match kind {
        TransportErrorKind::Connect => "connect",
        TransportErrorKind::Timeout => "timeout",
        TransportErrorKind::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mathapi_functions::{All, Limits, entries};

    use crate::plan::Mix;

    fn run_info() -> RunInfo {
        RunInfo {
            target: "http://127.0.0.1:1".into(),
            seed: 1,
            target_rate: Some(10.0),
            concurrency: 2,
            interrupted: false,
            elapsed: Duration::from_secs(2),
            slot_waits: 0,
        }
    }

    #[test]
    fn counts_statuses_mismatches_and_latency() {
        let mut stats = Stats::default();
        let requests: Vec<_> = Mix::new(1, entries(), &Limits::<All>::default(), 0.5)
            .take(100)
            .collect();
        let mut expected_mismatches = 0;
        for (i, r) in requests.iter().enumerate() {
            // Every request answered 200 after i+1 ms: the invalid ones are mismatches.
            let outcome = Outcome::Response {
                status: 200,
                latency: Duration::from_millis(i as u64 + 1),
            };
            let matched = stats.record(r, &outcome);
            assert_eq!(matched, r.class == Class::Valid);
            expected_mismatches += u64::from(!matched);
        }
        let s = stats.summarize(run_info());
        assert_eq!((s.sent, s.responses, s.transport_errors), (100, 100, 0));
        assert_eq!(s.status_codes, BTreeMap::from([(200, 100)]));
        assert_eq!(s.mismatched, expected_mismatches);
        assert_eq!(s.mismatch_examples.len(), 10);
        assert!(
            s.mismatch_examples
                .iter()
                .all(|m| m.actual == 200 && m.expected != 200)
        );
        assert_eq!(s.achieved_rate, 50.0);
        let l = s.latency_ms.unwrap();
        // Latencies 1..=100 ms; hdrhistogram keeps three significant digits.
        assert!((l.p50 - 50.0).abs() < 0.1, "{l:?}");
        assert!((l.p90 - 90.0).abs() < 0.1, "{l:?}");
        assert!((l.p99 - 99.0).abs() < 0.1, "{l:?}");
        assert!((l.max - 100.0).abs() < 0.1, "{l:?}");
        let per_function: u64 = s.functions.values().map(|f| f.requests).sum();
        assert_eq!(per_function, 100);
        assert!(!s.all_as_expected() && !s.unreachable());
        let text = s.to_string();
        assert!(text.contains("200: 100"), "{text}");
        // One row per function, in the order of the list, in the text and the JSON.
        let rows: Vec<usize> = entries()
            .iter()
            .map(|e| {
                text.find(&format!("\n  {:<20} ", e.name()))
                    .unwrap_or_else(|| panic!("no row for {}", e.name()))
            })
            .collect();
        assert!(rows.is_sorted(), "{text}");
        let json = serde_json::to_value(&s).unwrap();
        for entry in entries() {
            assert!(
                json["functions"][entry.name()]["requests"]
                    .as_u64()
                    .unwrap()
                    > 0
            );
        }
    }

    #[test]
    fn transport_errors_only_means_unreachable() {
        let mut stats = Stats::default();
        for r in Mix::new(2, entries(), &Limits::<All>::default(), 0.2).take(5) {
            stats.record(
                &r,
                &Outcome::Transport {
                    kind: TransportErrorKind::Connect,
                    message: "connection refused".into(),
                },
            );
        }
        let s = stats.summarize(run_info());
        assert_eq!((s.sent, s.responses, s.transport_errors), (5, 0, 5));
        assert!(s.unreachable() && !s.all_as_expected());
        assert!(s.latency_ms.is_none());
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["transport_error_kinds"]["connect"], 5);
        assert_eq!(json["first_transport_error"], "connection refused");
        assert!(s.to_string().contains("connect: 5"));
    }

    #[test]
    fn no_requests_is_neither_unreachable_nor_a_failure() {
        let s = Stats::default().summarize(run_info());
        assert!(!s.unreachable() && s.all_as_expected());
        assert!(s.to_string().contains("status       none"));
    }
}
