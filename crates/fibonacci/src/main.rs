//! The Fibonacci service: GET /fibonacci/{n}/ and the sequence stepper, docs at /fibonacci/docs.

use std::process::ExitCode;

use mathapi_fibonacci::{FibonacciArgs, FibonacciService};

fn main() -> ExitCode {
    mathapi_service::run_service(|args: &FibonacciArgs, metrics| {
        FibonacciService::open(args, metrics).map_err(|e| e.to_string())
    })
}
