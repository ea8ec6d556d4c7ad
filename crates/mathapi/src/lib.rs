//! The all-in-one server: the Fibonacci, factorial and Ackermann APIs on one port, with one
//! combined OpenAPI document at `/openapi.json`, Swagger UI at `/docs` and the front page at
//! `/`; and the same functions on the command line.
//!
//! Layout: this file assembles the app ([`app`]) and starts it ([`serve`]); [`cli`] is the
//! command line, [`compute`] and [`stepper`] its subcommands, `output` their printing.

pub mod cli;
pub mod compute;
mod output;
pub mod stepper;

use std::process::ExitCode;

use mathapi_ackermann::{AckermannApi, AckermannArgs};
use mathapi_factorial::{FactorialApi, FactorialArgs};
use mathapi_fibonacci::{FibonacciArgs, FibonacciService, OpenError};
use mathapi_frontpage::FrontPage;
use mathapi_http::{
    Annotations, AppContext, Docs, MathApi, MathCors, OpsApi, RouteTemplates, api_docs,
    with_middleware,
};
use mathapi_server::{RunSettings, ServerArgs};
use mathapi_telemetry::VERSION;
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
    pub factorial: FactorialArgs,
    #[command(flatten)]
    pub ackermann: AckermannArgs,
}

/// The app: the three APIs, the operational endpoints, the documentation both combined
/// (`/docs`) and per API (`/fibonacci/docs`, ...), as each service serves it, and the front
/// page (`/`). The math routes answer other origins; the stepper's writes do not (see
/// [`MathCors`]). The APIs and the middleware count in `context`'s metrics; the middleware
/// keeps math answers in its render cache and injects its faults.
///
/// Opens the sequence stepper's store, so it must run inside the Tokio runtime.
pub fn app(args: &Args, context: &AppContext) -> Result<BoxEndpoint<'static, Response>, OpenError> {
    let metrics = &context.metrics;
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
    let route = api_docs(&fibonacci, &ops).mount(route, &format!("/{}", FibonacciService::NAME));
    let route = api_docs(&factorial, &ops).mount(route, &format!("/{}", FactorialApi::NAME));
    let route = api_docs(&ackermann, &ops).mount(route, &format!("/{}", AckermannApi::NAME));
    let route = route.nest("/", service.with(MathCors).with(FrontPage));
    Ok(with_middleware(route, routes, context))
}

/// Runs the server until SIGTERM/SIGINT: `mathapi` and `mathapi serve`.
pub fn serve(args: &Args) -> ExitCode {
    let settings = RunSettings {
        name: NAME,
        functions: vec![
            FibonacciService::NAME,
            FactorialApi::NAME,
            AckermannApi::NAME,
        ],
        default_port: DEFAULT_PORT,
        args: &args.server,
    };
    mathapi_server::run(settings, |context| {
        app(args, context).map_err(|e| e.to_string())
    })
}
