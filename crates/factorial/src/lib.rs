//! The factorial service: `GET /factorial/{n}/`.

use mathapi_http::{Call, Cost, MathApi, ParamBound, ProblemResponse};
use mathapi_math::factorial;
use mathapi_telemetry::Metrics;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi, Tags};

/// The largest `n` any configuration may allow: 10 000! has 35 660 digits and is
/// computed and rendered in a few milliseconds.
pub const HARD_MAX_N: u64 = 10_000;
/// The largest n computed inline on the async worker: 450! has 1 001 digits and takes tens
/// of microseconds, about what handing it to the blocking pool costs (see
/// docs/reliability.md). Larger ones go through the compute limit.
const CHEAP_MAX_N: u64 = 450;

/// The factorial service's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct FactorialArgs {
    /// Largest n that factorial accepts (at most 10000).
    #[arg(
        id = "factorial_max_n",
        long = "factorial-max-n",
        env = "MATHAPI_FACTORIAL_MAX_N",
        default_value_t = 400,
        value_parser = clap::value_parser!(u64).range(0..=HARD_MAX_N)
    )]
    pub max_n: u64,
}

impl Default for FactorialArgs {
    fn default() -> Self {
        FactorialArgs { max_n: 400 }
    }
}

#[derive(Tags)]
enum FactorialTags {
    /// Factorials.
    Factorial,
}

/// A factorial.
#[derive(Debug, Object)]
#[oai(example)]
pub struct FactorialResult {
    /// The argument.
    pub n: u64,
    /// n!, exact, as a decimal string (it does not fit in a JSON number for n > 18).
    pub result: String,
}

impl Example for FactorialResult {
    fn example() -> Self {
        FactorialResult {
            n: 5,
            result: "120".into(),
        }
    }
}

/// The factorial API.
#[derive(Clone)]
pub struct FactorialApi {
    max_n: u64,
    metrics: Metrics,
}

impl FactorialApi {
    pub fn new(args: &FactorialArgs, metrics: &Metrics) -> Self {
        FactorialApi {
            max_n: args.max_n,
            metrics: metrics.clone(),
        }
    }

    async fn answer(&self, raw_n: &str) -> Result<Json<FactorialResult>, ProblemResponse> {
        let call = Call::new("factorial", &format!("n={raw_n}"), &self.metrics);
        let n = call.argument("n", raw_n, self.max_n)?;
        let cost = if n <= CHEAP_MAX_N {
            Cost::Cheap
        } else {
            Cost::Heavy
        };
        let result = call
            .compute(cost, move || Ok(factorial(n).to_string()))
            .await?;
        Ok(Json(FactorialResult { n, result }))
    }

    fn missing(&self) -> Result<Json<FactorialResult>, ProblemResponse> {
        let call = Call::new("factorial", "", &self.metrics);
        Err(call.missing("n", "/factorial/{n}/"))
    }
}

#[OpenApi(tag = "FactorialTags::Factorial")]
impl FactorialApi {
    /// The factorial of n
    ///
    /// n! = 1 × 2 × … × n, with 0! = 1, computed exactly.
    #[oai(path = "/factorial/:n/", method = "get", operation_id = "factorial")]
    async fn factorial(&self, n: Path<String>) -> Result<Json<FactorialResult>, ProblemResponse> {
        self.answer(&n).await
    }

    #[oai(path = "/factorial", method = "get", hidden)]
    async fn factorial_missing(&self) -> Result<Json<FactorialResult>, ProblemResponse> {
        self.missing()
    }
}

impl MathApi for FactorialApi {
    const NAME: &'static str = "factorial";
    const TITLE: &'static str = "Factorial API";
    const DESCRIPTION: &'static str = "Exact factorials: `GET /factorial/{n}/` answers n! as a decimal string. Errors are RFC 9457 problem documents (`application/problem+json`).";
    const DEFAULT_PORT: u16 = 8002;

    fn bounds(&self) -> Vec<ParamBound> {
        vec![ParamBound {
            path_prefix: "/factorial/",
            name: "n",
            maximum: self.max_n,
            example: None,
        }]
    }
}
