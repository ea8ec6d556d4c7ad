//! The Fibonacci service: GET /fibonacci/{n}/ and the shared sequence's routes, docs at
//! /fibonacci/docs, and the front page at / (the stack's Traefik routes `/` here).

use std::process::ExitCode;

use mathapi_fibonacci::{FibonacciApi, FibonacciArgs};
use mathapi_frontpage::FrontPage;
use mathapi_sequence_api::{WithSequence, WithSequenceArgs};
use mathapi_service::{MathApi, RenderCache, ServiceCli, run, single_api_app_with_cache};
use poem::EndpointExt;

/// What this binary serves: the Fibonacci API with the sequence's routes.
type Service = WithSequence<FibonacciApi>;

fn main() -> ExitCode {
    // As `mathapi_service::run_service`, plus the front page around the app.
    let cli =
        ServiceCli::<WithSequenceArgs<FibonacciArgs>>::parse_for(Service::NAME, Service::TITLE);
    run(
        Service::NAME,
        &[Service::NAME],
        Service::DEFAULT_PORT,
        &cli.server,
        |metrics| {
            let fibonacci = FibonacciApi::new(&cli.service.api, metrics);
            let api = Service::open(fibonacci, &cli.service.sequence, metrics)
                .map_err(|e| e.to_string())?;
            let cache = RenderCache::new(cli.server.render_cache_bytes, metrics);
            Ok(single_api_app_with_cache(api, metrics, cache)
                .with(FrontPage)
                .boxed())
        },
    )
}
