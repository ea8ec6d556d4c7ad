use std::process::ExitCode;

use clap::Parser;
use mathapi::{Args, DEFAULT_PORT, NAME, app};

fn main() -> ExitCode {
    let args = Args::parse();
    mathapi_service::run(NAME, DEFAULT_PORT, &args.server, |metrics| {
        Ok(app(&args, metrics))
    })
}
