//! The Fibonacci service: GET /fibonacci/{n}/ and the sequence stepper, docs at
//! /fibonacci/docs, and the front page at / (the stack's Traefik routes `/` here).

use std::process::ExitCode;

use mathapi_fibonacci::{FibonacciArgs, FibonacciService};
use mathapi_frontpage::FrontPage;
use mathapi_http::{MathApi, RenderCache, single_api_app_with_cache};
use mathapi_server::{ServiceCli, run};
use poem::EndpointExt;

fn main() -> ExitCode {
    // As `mathapi_server::run_service`, plus the front page around the app.
    let cli =
        ServiceCli::<FibonacciArgs>::parse_for(FibonacciService::NAME, FibonacciService::TITLE);
    run(
        FibonacciService::NAME,
        &[FibonacciService::NAME],
        FibonacciService::DEFAULT_PORT,
        &cli.server,
        |metrics| {
            let api = FibonacciService::open(&cli.service, metrics).map_err(|e| e.to_string())?;
            let cache = RenderCache::new(cli.server.render_cache_bytes, metrics);
            Ok(single_api_app_with_cache(api, metrics, cache)
                .with(FrontPage)
                .boxed())
        },
    )
}
