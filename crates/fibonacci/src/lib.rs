//! The Fibonacci service: `GET /fibonacci/{n}/` ([`FibonacciApi`], stateless), and the
//! sequence stepper (`/fibonacci/current`, `next`, `previous`, `reset`: [`StepperApi`], in
//! the `stepper` module). [`FibonacciService`] combines the two as a tuple, as the
//! `fibonacci` binary and the all-in-one server serve them.

mod stepper;

use std::collections::HashMap;
use std::sync::Arc;

use mathapi_http::{
    Call, Cost, HeaderRule, MathApi, ParamBound, ProblemResponse, Readiness, ResponseExample,
};
use mathapi_math::fibonacci;
use mathapi_telemetry::Metrics;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaApi, Registry};
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi, Tags};

pub use mathapi_sequence::{OpenError, SyncHook};
pub use stepper::{
    Backend, HARD_MAX_INDEX, Operation, SequenceArgs, SequenceResponse, SequenceValue, Stepper,
    StepperApi,
};

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

    /// The configured range of `n`, for the OpenAPI document.
    pub fn bounds(&self) -> Vec<ParamBound> {
        vec![ParamBound {
            path_prefix: "/fibonacci/",
            name: "n",
            maximum: self.max_n,
            example: None,
        }]
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

/// The Fibonacci service: [`FibonacciApi`] and [`StepperApi`] combined as a tuple, with
/// what the servers need to publish and check them ([`MathApi`]).
#[derive(Clone)]
pub struct FibonacciService {
    apis: (FibonacciApi, StepperApi),
}

impl FibonacciService {
    /// Opens the stepper's store too; must run inside the Tokio runtime.
    pub fn open(args: &FibonacciArgs, metrics: &Metrics) -> Result<Self, OpenError> {
        Self::open_with_sync_hook(args, metrics, None)
    }

    /// [`FibonacciService::open`], with a hook the embedded store calls before each
    /// `fdatasync` (tests use it to stall the disk for real).
    pub fn open_with_sync_hook(
        args: &FibonacciArgs,
        metrics: &Metrics,
        before_sync: Option<SyncHook>,
    ) -> Result<Self, OpenError> {
        let stepper = Stepper::open_with_sync_hook(&args.sequence, metrics, before_sync)?;
        Ok(FibonacciService {
            apis: (FibonacciApi::new(args, metrics), StepperApi::new(stepper)),
        })
    }

    /// The stateless API.
    pub fn fibonacci(&self) -> &FibonacciApi {
        &self.apis.0
    }

    /// The stepper's API.
    pub fn stepper(&self) -> &StepperApi {
        &self.apis.1
    }
}

// The tuple's routes and documents, as they are: the wrapper only adds `MathApi`, which a
// foreign trait cannot get on a tuple directly.
impl OpenApi for FibonacciService {
    fn meta() -> Vec<MetaApi> {
        <(FibonacciApi, StepperApi)>::meta()
    }

    fn register(registry: &mut Registry) {
        <(FibonacciApi, StepperApi)>::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.apis.add_routes(route_table);
    }
}

impl MathApi for FibonacciService {
    const NAME: &'static str = "fibonacci";
    const TITLE: &'static str = "Fibonacci API";
    const DESCRIPTION: &'static str = "Exact Fibonacci numbers: `GET /fibonacci/{n}/` answers F(n) as a decimal string. \
        The sequence stepper (`/fibonacci/current`, `next`, `previous`, `reset`) walks one shared, durable \
        sequence. Errors are RFC 9457 problem documents (`application/problem+json`).";
    const DEFAULT_PORT: u16 = 8001;

    fn bounds(&self) -> Vec<ParamBound> {
        self.fibonacci().bounds()
    }

    fn examples(&self) -> Vec<ResponseExample> {
        self.stepper().stepper().examples()
    }

    fn header_rules(&self) -> Vec<HeaderRule> {
        vec![stepper::idempotency_key_rule()]
    }

    fn readiness(&self) -> Vec<Arc<dyn Readiness>> {
        self.stepper().readiness()
    }
}
