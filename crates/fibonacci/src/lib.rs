//! The Fibonacci service: `GET /fibonacci/{n}/`, and the sequence stepper
//! (`/fibonacci/current`, `next`, `previous`, `reset`).

mod sequence;

use std::sync::Arc;

use mathapi_math::fibonacci;
use mathapi_service::{
    Call, Cost, MathApi, Metrics, ParamBound, ProblemResponse, Readiness, ResponseExample,
};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi, Tags};

pub use mathapi_sequence::OpenError;
pub use sequence::{Backend, Operation, Sequence, SequenceArgs, SequenceResponse, SequenceValue};

/// The largest `n` any configuration may allow: F(100 000) has 20 899 digits and is
/// computed and rendered in about a millisecond.
pub const HARD_MAX_N: u64 = 100_000;
/// The largest n computed inline on the async worker: F(5 000) has 1 045 digits and takes
/// tens of microseconds, about what handing it to the blocking pool costs (see
/// docs/reliability.md). Larger ones go through the compute limit.
const CHEAP_MAX_N: u64 = 5_000;

/// The Fibonacci service's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct FibonacciArgs {
    /// Largest n that fibonacci accepts (at most 100000).
    #[arg(
        id = "fibonacci_max_n",
        long = "fibonacci-max-n",
        env = "MATHAPI_FIBONACCI_MAX_N",
        default_value_t = 400,
        value_parser = clap::value_parser!(u64).range(0..=HARD_MAX_N)
    )]
    pub max_n: u64,

    #[command(flatten)]
    pub sequence: SequenceArgs,
}

#[derive(Tags)]
enum FibonacciTags {
    /// Fibonacci numbers.
    Fibonacci,
    /// One shared, durable walk through the Fibonacci sequence.
    Sequence,
}

/// A Fibonacci number.
#[derive(Debug, Object)]
#[oai(example)]
pub struct FibonacciResult {
    /// The argument.
    pub n: u64,
    /// F(n), exact, as a decimal string (it does not fit in a JSON number for n > 78).
    pub result: String,
}

impl Example for FibonacciResult {
    fn example() -> Self {
        FibonacciResult {
            n: 10,
            result: "55".into(),
        }
    }
}

/// The Fibonacci API.
#[derive(Clone)]
pub struct FibonacciApi {
    max_n: u64,
    metrics: Metrics,
    sequence: Sequence,
}

impl FibonacciApi {
    /// Opens the sequence stepper's store too; must run inside the Tokio runtime.
    pub fn open(args: &FibonacciArgs, metrics: &Metrics) -> Result<Self, OpenError> {
        Ok(FibonacciApi {
            max_n: args.max_n,
            metrics: metrics.clone(),
            sequence: Sequence::open(&args.sequence, metrics)?,
        })
    }

    async fn answer(&self, raw_n: &str) -> Result<Json<FibonacciResult>, ProblemResponse> {
        let call = Call::new("fibonacci", &format!("n={raw_n}"), &self.metrics);
        let n = call.argument("n", raw_n, self.max_n)?;
        let cost = if n <= CHEAP_MAX_N {
            Cost::Cheap
        } else {
            Cost::Heavy
        };
        let result = call
            .compute(cost, move || Ok(fibonacci(n).to_string()))
            .await?;
        Ok(Json(FibonacciResult { n, result }))
    }

    fn missing(&self) -> Result<Json<FibonacciResult>, ProblemResponse> {
        let call = Call::new("fibonacci", "", &self.metrics);
        Err(call.missing("n", "/fibonacci/{n}/"))
    }
}

#[OpenApi(tag = "FibonacciTags::Fibonacci")]
impl FibonacciApi {
    /// The n-th Fibonacci number
    ///
    /// F(0) = 0, F(1) = 1, F(n) = F(n-1) + F(n-2), computed exactly.
    #[oai(path = "/fibonacci/:n/", method = "get", operation_id = "fibonacci")]
    async fn fibonacci(&self, n: Path<String>) -> Result<Json<FibonacciResult>, ProblemResponse> {
        self.answer(&n).await
    }

    #[oai(path = "/fibonacci", method = "get", hidden)]
    async fn fibonacci_missing(&self) -> Result<Json<FibonacciResult>, ProblemResponse> {
        self.missing()
    }

    /// The stepper's current position
    ///
    /// One sequence shared by every client, starting at index 0 (value 0).
    #[oai(
        path = "/fibonacci/current",
        method = "get",
        tag = "FibonacciTags::Sequence"
    )]
    async fn sequence_current(&self) -> SequenceResponse {
        self.sequence.run(Operation::Current).await
    }

    /// Step forward
    ///
    /// Advances the shared sequence one step and answers with the new position, after the
    /// step is durable. `409` at the configured maximum index.
    #[oai(
        path = "/fibonacci/next",
        method = "post",
        tag = "FibonacciTags::Sequence"
    )]
    async fn sequence_next(&self) -> SequenceResponse {
        self.sequence.run(Operation::Next).await
    }

    /// Step back
    ///
    /// Moves the shared sequence back one step and answers with the new position, after
    /// the step is durable. `409` at index 0.
    #[oai(
        path = "/fibonacci/previous",
        method = "post",
        tag = "FibonacciTags::Sequence"
    )]
    async fn sequence_previous(&self) -> SequenceResponse {
        self.sequence.run(Operation::Previous).await
    }

    /// Back to the start
    ///
    /// Returns the shared sequence to index 0, durably.
    #[oai(
        path = "/fibonacci/reset",
        method = "post",
        tag = "FibonacciTags::Sequence"
    )]
    async fn sequence_reset(&self) -> SequenceResponse {
        self.sequence.run(Operation::Reset).await
    }

    /// Step forward (GET, for compatibility)
    ///
    /// Same as `POST /fibonacci/next`; kept because the published API used GET.
    #[oai(
        path = "/fibonacci/next",
        method = "get",
        tag = "FibonacciTags::Sequence",
        deprecated
    )]
    async fn sequence_next_get(&self) -> SequenceResponse {
        self.sequence.run(Operation::Next).await
    }

    /// Step back (GET, for compatibility)
    ///
    /// Same as `POST /fibonacci/previous`; kept because the published API used GET.
    #[oai(
        path = "/fibonacci/previous",
        method = "get",
        tag = "FibonacciTags::Sequence",
        deprecated
    )]
    async fn sequence_previous_get(&self) -> SequenceResponse {
        self.sequence.run(Operation::Previous).await
    }

    /// Back to the start (GET, for compatibility)
    ///
    /// Same as `POST /fibonacci/reset`; kept because the published API used GET.
    #[oai(
        path = "/fibonacci/reset",
        method = "get",
        tag = "FibonacciTags::Sequence",
        deprecated
    )]
    async fn sequence_reset_get(&self) -> SequenceResponse {
        self.sequence.run(Operation::Reset).await
    }
}

impl MathApi for FibonacciApi {
    const NAME: &'static str = "fibonacci";
    const TITLE: &'static str = "Fibonacci API";
    const DESCRIPTION: &'static str = "Exact Fibonacci numbers: `GET /fibonacci/{n}/` answers F(n) as a decimal string. \
        The sequence stepper (`/fibonacci/current`, `next`, `previous`, `reset`) walks one shared, durable \
        sequence. Errors are RFC 9457 problem documents (`application/problem+json`).";
    const DEFAULT_PORT: u16 = 8001;

    fn bounds(&self) -> Vec<ParamBound> {
        vec![ParamBound {
            path_prefix: "/fibonacci/",
            name: "n",
            maximum: self.max_n,
            example: None,
        }]
    }

    fn examples(&self) -> Vec<ResponseExample> {
        sequence::examples(self.sequence.max_index())
    }

    fn readiness(&self) -> Vec<Arc<dyn Readiness>> {
        vec![Arc::new(self.sequence.clone())]
    }
}
