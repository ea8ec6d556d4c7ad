use std::process::ExitCode;

use clap::Parser;
use mathapi_ackermann::{AckermannApi, AckermannArgs};
use mathapi_service::{MathApi, ServerArgs, single_api_app};

/// The Ackermann service: GET /ackermann/{m}/{n}/ with docs at /ackermann/docs.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    ackermann: AckermannArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    mathapi_service::run(
        AckermannApi::NAME,
        AckermannApi::DEFAULT_PORT,
        &cli.server,
        |metrics| {
            Ok(single_api_app(
                AckermannApi::new(&cli.ackermann, metrics),
                metrics,
            ))
        },
    )
}
