//! The all-in-one server: the Fibonacci, factorial and Ackermann APIs on one port, with one
//! combined OpenAPI document at `/openapi.json` and Swagger UI at `/docs`.

use mathapi_ackermann::{AckermannApi, AckermannArgs};
use mathapi_factorial::{FactorialApi, FactorialArgs};
use mathapi_fibonacci::{FibonacciArgs, FibonacciService, OpenError};
use mathapi_service::server::api_docs;
use mathapi_service::telemetry::VERSION;
use mathapi_service::{
    Annotations, Docs, MathApi, Metrics, OpsApi, RouteTemplates, ServerArgs, finish,
};
use poem::endpoint::BoxEndpoint;
use poem::{Response, Route};
use poem_openapi::OpenApiService;

/// The name in logs and metrics.
pub const NAME: &str = "mathapi";
/// The port a new user finds it on.
pub const DEFAULT_PORT: u16 = 8000;

/// Every setting of the all-in-one server.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    version,
    about = "The mathapi all-in-one server: /fibonacci, /factorial and /ackermann on one port"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub fibonacci: FibonacciArgs,
    #[command(flatten)]
    pub factorial: FactorialArgs,
    #[command(flatten)]
    pub ackermann: AckermannArgs,
}

/// The app: the three APIs, the operational endpoints, and the documentation both
/// combined (`/docs`) and per API (`/fibonacci/docs`, ...), as each service serves it.
///
/// Opens the sequence stepper's store, so it must run inside the Tokio runtime.
pub fn app(args: &Args, metrics: &Metrics) -> Result<BoxEndpoint<'static, Response>, OpenError> {
    let fibonacci = FibonacciService::open(&args.fibonacci, metrics)?;
    let factorial = FactorialApi::new(&args.factorial, metrics);
    let ackermann = AckermannApi::new(&args.ackermann, metrics);
    // Every API's dependencies, so that none is forgotten when another gains one.
    let readiness = [
        fibonacci.readiness(),
        factorial.readiness(),
        ackermann.readiness(),
    ]
    .concat();
    let ops = OpsApi::new(metrics.clone(), readiness);

    let notes = Annotations {
        bounds: [fibonacci.bounds(), factorial.bounds(), ackermann.bounds()].concat(),
        examples: [
            fibonacci.examples(),
            factorial.examples(),
            ackermann.examples(),
        ]
        .concat(),
    };
    let service = OpenApiService::new(
        (
            fibonacci.clone(),
            factorial.clone(),
            ackermann.clone(),
            ops.clone(),
        ),
        "mathapi",
        VERSION,
    )
    .description(
        "Exact Fibonacci numbers, factorials and Ackermann values. Results are decimal \
         strings; errors are RFC 9457 problem documents (`application/problem+json`).",
    );
    let combined = Docs::new(&service, &notes);
    let routes = RouteTemplates::from_spec(&combined.spec);

    let route = combined.mount(Route::new(), "");
    let route = api_docs(&fibonacci, &ops).mount(route, &format!("/{}", FibonacciService::NAME));
    let route = api_docs(&factorial, &ops).mount(route, &format!("/{}", FactorialApi::NAME));
    let route = api_docs(&ackermann, &ops).mount(route, &format!("/{}", AckermannApi::NAME));
    Ok(finish(route.nest("/", service), metrics, routes))
}
