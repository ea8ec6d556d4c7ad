//! The `main` of every function's own service binary, derived from the function's
//! description: `crates/<function>/src/main.rs` is one call, [`function_service`].
//!
//! The service serves the function's API (`GET /{name}/{p1}/.../`) with its limit flags, its
//! document at `/{name}/docs`, `/health`, `/ready` and `/metrics`, the front page at `/`
//! (every service can be the one a proxy sends `/` to), and, for the function the sequence
//! belongs to ([`mathapi_sequence_api::PREFIX`]), the sequence's routes and flags.

use std::process::ExitCode;

use mathapi_frontpage::FrontPage;
use mathapi_function::{Function, FunctionApi, Limits, One};
use mathapi_http::{MathApi, single_api_app};
use mathapi_sequence_api::{PREFIX, WithSequence, WithSequenceArgs};
use mathapi_server::{RunSettings, ServerArgs, ServiceCli, run};
use mathapi_telemetry::Metrics;
use poem::EndpointExt;

/// Parses the command line of `F`'s service and serves it until SIGTERM/SIGINT.
pub fn function_service<F: Function>() -> ExitCode {
    let description = F::DESCRIPTION;
    let (name, title) = (description.name, description.title);
    if name == PREFIX {
        let cli = ServiceCli::<WithSequenceArgs<Limits<One<F>>>>::parse_for(name, title);
        serve::<F, _>(&cli.server, |metrics| {
            let api = FunctionApi::<F>::new(&cli.service.api, metrics);
            WithSequence::open(api, &cli.service.sequence, metrics).map_err(|e| e.to_string())
        })
    } else {
        let cli = ServiceCli::<Limits<One<F>>>::parse_for(name, title);
        serve::<F, _>(&cli.server, |metrics| {
            Ok(FunctionApi::<F>::new(&cli.service, metrics))
        })
    }
}

/// Serves the API `open` gives (`F`'s, with what it brings) and the front page.
fn serve<F: Function, A: MathApi>(
    server: &ServerArgs,
    open: impl FnOnce(&Metrics) -> Result<A, String>,
) -> ExitCode {
    let description = F::DESCRIPTION;
    let settings = RunSettings {
        name: description.name,
        functions: vec![description.name],
        default_port: description.default_port,
        args: server,
    };
    run(settings, |context| {
        let api = open(&context.metrics)?;
        Ok(single_api_app(api, context).with(FrontPage).boxed())
    })
}
