use std::process::ExitCode;

use clap::Parser;
use mathapi_factorial::{FactorialApi, FactorialArgs};
use mathapi_service::{MathApi, ServerArgs, single_api_app};

/// The factorial service: GET /factorial/{n}/ with docs at /factorial/docs.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    factorial: FactorialArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mathapi_service::run(
        FactorialApi::NAME,
        FactorialApi::DEFAULT_PORT,
        &cli.server,
        |metrics| {
            Ok(single_api_app(
                FactorialApi::new(&cli.factorial, metrics),
                metrics,
            ))
        },
    )
}
