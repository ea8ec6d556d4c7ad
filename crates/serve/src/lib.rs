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
use mathapi_sequence_api::{PREFIX, WithSequence, WithSequenceArgs};
use mathapi_service::{MathApi, Metrics, RenderCache, ServerArgs, ServiceCli, run, single_api_app_with_cache};
use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response};

/// Parses the command line of `F`'s service and serves it until SIGTERM/SIGINT.
pub fn function_service<F: Function>() -> ExitCode {
    let description = F::DESCRIPTION;
    let (name, title) = (description.name, description.title);
    if name == PREFIX {
        let cli = ServiceCli::<WithSequenceArgs<Limits<One<F>>>>::parse_for(name, title);
        serve(&cli.server, description.default_port, name, |metrics| {
            let api = FunctionApi::<F>::new(&cli.service.api, metrics);
            WithSequence::open(api, &cli.service.sequence, metrics).map_err(|e| e.to_string())
        })
    } else {
        let cli = ServiceCli::<Limits<One<F>>>::parse_for(name, title);
        serve(&cli.server, description.default_port, name, |metrics| {
            Ok(FunctionApi::<F>::new(&cli.service, metrics))
        })
    }
}

fn serve<A: MathApi>(
    server: &ServerArgs,
    default_port: u16,
    name: &'static str,
    open: impl FnOnce(&Metrics) -> Result<A, String>,
) -> ExitCode {
    run(name, &[name], default_port, server, |metrics| {
        let api = open(metrics)?;
        let cache = RenderCache::new(server.render_cache_bytes, metrics);
        Ok(with_front_page(single_api_app_with_cache(api, metrics, cache)))
    })
}

fn with_front_page(app: BoxEndpoint<'static, Response>) -> BoxEndpoint<'static, Response> {
    app.with(FrontPage).boxed()
}
