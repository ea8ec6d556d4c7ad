//! The Fibonacci service: GET /fibonacci/{n}/ and the sequence stepper, docs at
//! /fibonacci/docs, and the front page at / (the stack's Traefik routes `/` here).

use std::process::ExitCode;

use mathapi_fibonacci::{FibonacciArgs, FibonacciService};
use mathapi_frontpage::FrontPage;
use mathapi_http::{MathApi, single_api_app};
use mathapi_server::{RunSettings, ServiceCli, run};
use poem::EndpointExt;

fn main() -> ExitCode {
    // As `mathapi_server::run_service`, plus the front page around the app.
    let cli =
        ServiceCli::<FibonacciArgs>::parse_for(FibonacciService::NAME, FibonacciService::TITLE);
    run(
        RunSettings::of_api::<FibonacciService>(&cli.server),
        |context| {
            let api = FibonacciService::open(&cli.service, &context.metrics)
                .map_err(|e| e.to_string())?;
            Ok(single_api_app(api, context).with(FrontPage).boxed())
        },
    )
}
