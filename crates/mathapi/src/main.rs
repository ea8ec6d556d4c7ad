use std::process::ExitCode;

use clap::Parser;
use mathapi::{Args, DEFAULT_PORT, NAME, app};

fn main() -> ExitCode {
    let args = Args::parse();
    mathapi_service::run(NAME, DEFAULT_PORT, &args.server, |metrics| {
        app(&args, metrics).map_err(|e| e.to_string())
    })
}
