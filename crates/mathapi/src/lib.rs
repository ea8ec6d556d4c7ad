//! The all-in-one server: every function of the list (`mathapi-functions`) and the shared
//! sequence on one port, with one combined OpenAPI document at `/openapi.json`, Swagger UI at
//! `/docs`, each function's own document at `/{name}/docs` and the front page at `/`; and the
//! same functions on the command line.
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

use mathapi_frontpage::FrontPage;
use mathapi_function::{Entry, Function, FunctionApi, Limits};
use mathapi_functions::{All, Visitor};
use mathapi_http::{
    Annotations, AppContext, Docs, MathApi, MathCors, OpsApi, RouteTemplates, api_docs,
    with_middleware,
};
use mathapi_sequence_api::{OpenError, SequenceApi, SequenceArgs, WithSequence};
use mathapi_server::{RunSettings, ServerArgs};
use mathapi_telemetry::{Metrics, VERSION};
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
    about = "The mathapi all-in-one server: every function on one port"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Every function's limits.
    #[command(flatten)]
    pub limits: Limits<All>,
    #[command(flatten)]
    pub sequence: SequenceArgs,
}

/// The app: every function's API (the sequence's routes beside the function whose prefix
/// they share, as its service serves them), the operational endpoints, the documentation
/// both combined (`/docs`) and per function (`/fibonacci/docs`, ...), as each service serves
/// it, and the front page (`/`). The math routes answer other origins; the sequence's writes
/// do not (see [`MathCors`]).
///
/// Opens the sequence's store, so it must run inside the Tokio runtime.
pub fn app(args: &Args, context: &AppContext) -> Result<BoxEndpoint<'static, Response>, OpenError> {
    let metrics = &context.metrics;
    let sequence = SequenceApi::open(&args.sequence, metrics)?;
    let apis = mathapi_functions::apis(&args.limits, metrics);
    let mut parts = Parts {
        limits: &args.limits,
        metrics,
        sequence: &sequence,
        documents: Vec::new(),
        notes: Annotations {
            examples: sequence.examples(),
            headers: sequence.header_rules(),
            withdrawn: sequence.withdrawn(),
            ..Annotations::default()
        },
        // The sequence's storage serves only its routes: it never gates `/ready`.
        readiness: Vec::new(),
    };
    mathapi_functions::for_each(&mut parts);
    let Parts {
        documents,
        notes,
        readiness,
        ..
    } = parts;
    let ops = OpsApi::new(metrics.clone(), readiness);
    let service = OpenApiService::new((apis, sequence.clone(), ops.clone()), NAME, VERSION)
        .description(description(mathapi_functions::entries()));
    let combined = Docs::new(&service, &notes);
    let routes = RouteTemplates::from_spec(&combined.spec);
    let cors = MathCors::from_spec(&combined.spec).with_origins(&context.origins);

    let route = combined.mount(Route::new(), "");
    let route = documents
        .into_iter()
        .fold(route, |route, document| document(route, &ops));
    let route = route.nest("/", service.with(cors).with(FrontPage));
    Ok(with_middleware(route, routes, context))
}

/// The combined document's description, naming every function.
fn description(entries: &[Entry]) -> String {
    let summaries: Vec<&str> = entries.iter().map(|e| e.description.summary).collect();
    format!(
        "Exact values of big-integer functions ({}). Results are decimal strings; errors are \
         RFC 9457 problem documents (`application/problem+json`).",
        summaries.join("; ")
    )
}

/// Mounts one function's own document under `/{name}`.
type MountDocument = Box<dyn FnOnce(Route, &OpsApi) -> Route>;

/// What the app gathers from each function, in list order.
struct Parts<'a> {
    limits: &'a Limits<All>,
    metrics: &'a Metrics,
    sequence: &'a SequenceApi,
    documents: Vec<MountDocument>,
    notes: Annotations,
    readiness: Vec<std::sync::Arc<dyn mathapi_http::Readiness>>,
}

impl Visitor for Parts<'_> {
    fn visit<F: Function>(&mut self) {
        let api = FunctionApi::<F>::new(self.limits, self.metrics);
        self.notes.bounds.extend(api.bounds());
        self.readiness.extend(api.readiness());
        let prefix = format!("/{}", F::DESCRIPTION.name);
        let document: MountDocument = if F::DESCRIPTION.name == mathapi_sequence_api::PREFIX {
            let api = WithSequence::new(api, self.sequence.clone());
            Box::new(move |route, ops| api_docs(&api, ops).mount(route, &prefix))
        } else {
            Box::new(move |route, ops| api_docs(&api, ops).mount(route, &prefix))
        };
        self.documents.push(document);
    }
}

/// Runs the server until SIGTERM/SIGINT: `mathapi` and `mathapi serve`.
pub fn serve(args: &Args) -> ExitCode {
    let settings = RunSettings {
        name: NAME,
        functions: mathapi_functions::entries()
            .iter()
            .map(Entry::name)
            .collect(),
        default_port: DEFAULT_PORT,
        args: &args.server,
    };
    mathapi_server::run(settings, |context| {
        app(args, context).map_err(|e| e.to_string())
    })
}
