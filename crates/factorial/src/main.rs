//! The factorial service: GET /factorial/{n}/, docs at /factorial/docs.

use std::process::ExitCode;

use mathapi_factorial::{FactorialApi, FactorialArgs};

fn main() -> ExitCode {
    mathapi_server::run_service(|args: &FactorialArgs, metrics| {
        Ok(FactorialApi::new(args, metrics))
    })
}
