//! The all-in-one server: the Fibonacci, factorial and Ackermann APIs on one port, with one
//! combined OpenAPI document at `/openapi.json`, Swagger UI at `/docs` and the front page at
//! `/`; and the same functions on the command line.
//!
//! Layout: this file assembles the app ([`app`]) and starts it ([`serve`]); [`cli`] holds
//! the command line's types; [`compute`] and [`sequence`] run its subcommands; `output`
//! writes their answers and holds their exit codes; `main.rs` parses the command line and
//! runs what it names. Imports go one way: `compute` and `sequence` use `cli` and
//! `output` (and `sequence` this file's [`NAME`]), `cli` uses only this file's [`Args`],
//! and `output` uses none of them.

pub mod cli;
pub mod compute;
mod output;
pub mod sequence;

use std::process::ExitCode;

use mathapi_ackermann::{AckermannApi, AckermannArgs};
use mathapi_factorial::{FactorialApi, FactorialArgs};
use mathapi_fibonacci::{FibonacciApi, FibonacciArgs};
use mathapi_frontpage::FrontPage;
use mathapi_sequence_api::{OpenError, SequenceArgs, WithSequence};
use mathapi_service::{
    Annotations, Docs, MathApi, MathCors, Metrics, OpsApi, RenderCache, RouteTemplates, ServerArgs,
    VERSION, api_docs, with_middleware,
};
use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response, Route};
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
    pub sequence: SequenceArgs,
    #[command(flatten)]
    pub factorial: FactorialArgs,
    #[command(flatten)]
    pub ackermann: AckermannArgs,
}

/// The app: the three APIs (Fibonacci's with the sequence's routes, as the `fibonacci`
/// service serves it), the operational endpoints, the documentation both combined (`/docs`)
/// and per API (`/fibonacci/docs`, ...), as each service serves it, and the front page
/// (`/`). The math routes answer other origins; the sequence's writes do not (see
/// [`MathCors`]).
///
/// Opens the sequence's store, so it must run inside the Tokio runtime.
pub fn app(args: &Args, metrics: &Metrics) -> Result<BoxEndpoint<'static, Response>, OpenError> {
    let fibonacci = FibonacciApi::new(&args.fibonacci, metrics);
    let fibonacci = WithSequence::open(fibonacci, &args.sequence, metrics)?;
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
        headers: fibonacci.header_rules(),
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
    let route = api_docs(&fibonacci, &ops).mount(route, &format!("/{}", FibonacciApi::NAME));
    let route = api_docs(&factorial, &ops).mount(route, &format!("/{}", FactorialApi::NAME));
    let route = api_docs(&ackermann, &ops).mount(route, &format!("/{}", AckermannApi::NAME));
    let route = route.nest("/", service.with(MathCors).with(FrontPage));
    let cache = RenderCache::new(args.server.render_cache_bytes, metrics);
    Ok(with_middleware(route, metrics, routes, cache))
}

/// Runs the server until SIGTERM/SIGINT: `mathapi` and `mathapi serve`.
pub fn serve(args: &Args) -> ExitCode {
    let functions = [FibonacciApi::NAME, FactorialApi::NAME, AckermannApi::NAME];
    mathapi_service::run(NAME, &functions, DEFAULT_PORT, &args.server, |metrics| {
        app(args, metrics).map_err(|e| e.to_string())
    })
}
