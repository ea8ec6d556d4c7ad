use std::process::ExitCode;

use clap::Parser;
use mathapi_fibonacci::{FibonacciApi, FibonacciArgs};
use mathapi_service::{MathApi, ServerArgs, single_api_app};

/// The Fibonacci service: GET /fibonacci/{n}/ with docs at /fibonacci/docs.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    fibonacci: FibonacciArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mathapi_service::run(
        FibonacciApi::NAME,
        FibonacciApi::DEFAULT_PORT,
        &cli.server,
        |metrics| {
            let api = FibonacciApi::open(&cli.fibonacci, metrics).map_err(|e| e.to_string())?;
            Ok(single_api_app(api, metrics))
        },
    )
}
