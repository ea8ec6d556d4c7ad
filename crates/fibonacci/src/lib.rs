//! The Fibonacci API: `GET /fibonacci/{n}/` ([`FibonacciApi`]), stateless, like the
//! factorial and Ackermann APIs.
//!
//! The `fibonacci` binary (and the all-in-one server) also serve the shared sequence's
//! routes (`/fibonacci/current`, `next`, `previous`, `reset`) next to it: those are the
//! `mathapi-sequence-api` crate's, added with its `WithSequence`.

use mathapi_math::fibonacci;
use mathapi_service::{Call, Cost, MathApi, Metrics, ParamBound, ProblemResponse};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi, Tags};

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
}

#[derive(Tags)]
enum FibonacciTags {
    /// Fibonacci numbers.
    Fibonacci,
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

/// The Fibonacci API: `GET /fibonacci/{n}/`. Stateless, like the other two math APIs.
#[derive(Clone)]
pub struct FibonacciApi {
    max_n: u64,
    metrics: Metrics,
}

impl FibonacciApi {
    /// The API with its configured limit.
    pub fn new(args: &FibonacciArgs, metrics: &Metrics) -> Self {
        FibonacciApi {
            max_n: args.max_n,
            metrics: metrics.clone(),
        }
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
}

impl MathApi for FibonacciApi {
    const NAME: &'static str = "fibonacci";
    const TITLE: &'static str = "Fibonacci API";
    // Every server that publishes this API serves the sequence's routes with it
    // (`WithSequence`, which takes this description), so the document names them too.
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
}
