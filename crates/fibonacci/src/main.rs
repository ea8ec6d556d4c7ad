//! The Fibonacci service: GET /fibonacci/{n}/ and the sequence stepper, docs at
//! /fibonacci/docs, and the front page at / (the stack's Traefik routes `/` here).

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use mathapi_fibonacci::{FibonacciApi, FibonacciArgs};
use mathapi_frontpage::FrontPage;
use mathapi_service::MathApi;
use mathapi_service::cors::MathCors;
use mathapi_service::server::{ServiceCli, run, single_api_app};
use poem::EndpointExt;

fn main() -> ExitCode {
    // As `mathapi_service::run_service`, plus the page and CORS around the app.
    let command = ServiceCli::<FibonacciArgs>::command()
        .name(FibonacciApi::NAME)
        .about("Fibonacci API: the mathapi fibonacci service, and the front page");
    let cli = ServiceCli::<FibonacciArgs>::from_arg_matches(&command.get_matches())
        .unwrap_or_else(|e| e.exit());
    run(
        FibonacciApi::NAME,
        FibonacciApi::DEFAULT_PORT,
        &cli.server,
        |metrics| {
            let api = FibonacciApi::open(&cli.service, metrics).map_err(|e| e.to_string())?;
            Ok(single_api_app(api, metrics)
                .with(FrontPage)
                .with(MathCors)
                .boxed())
        },
    )
}
