//! `mathapi fibonacci|factorial|ackermann`: one value, computed in this process with the
//! services' own argument parsing, limits and result types, so the CLI and the API agree on
//! every answer and every error message.

use std::process::ExitCode;

use mathapi_ackermann::AckermannResult;
use mathapi_factorial::FactorialResult;
use mathapi_fibonacci::FibonacciResult;
use mathapi_http::ArgumentError;
use mathapi_http::parse_argument;
use poem_openapi::types::ToJSON;

use crate::cli::{AckermannCommand, EXIT_BAD_ARGUMENT, FactorialCommand, FibonacciCommand};
use crate::output::print_line;

/// A computed value: the bare decimal and the API's JSON document.
struct Answer {
    decimal: String,
    document: String,
}

/// `mathapi fibonacci N`.
pub fn fibonacci(command: &FibonacciCommand) -> ExitCode {
    respond(command.json, || {
        let n = parse_argument("n", &command.n, command.limits.max_n)?;
        let answer = FibonacciResult {
            n,
            result: mathapi_math::fibonacci(n).to_string(),
        };
        Ok(Answer {
            document: answer.to_json_string(),
            decimal: answer.result,
        })
    })
}

/// `mathapi factorial N`.
pub fn factorial(command: &FactorialCommand) -> ExitCode {
    respond(command.json, || {
        let n = parse_argument("n", &command.n, command.limits.max_n)?;
        let answer = FactorialResult {
            n,
            result: mathapi_math::factorial(n).to_string(),
        };
        Ok(Answer {
            document: answer.to_json_string(),
            decimal: answer.result,
        })
    })
}

/// `mathapi ackermann M N`: the same "not computable" refusal as the API for values too
/// large to hold.
pub fn ackermann(command: &AckermannCommand) -> ExitCode {
    respond(command.json, || {
        let m = parse_argument("m", &command.m, command.limits.max_m)?;
        let n = parse_argument("n", &command.n, command.limits.max_n)?;
        let value = mathapi_math::ackermann(m, n)
            .map_err(|e| ArgumentError::NotComputable(e.to_string()))?;
        let answer = AckermannResult {
            m,
            n,
            result: value.to_string(),
        };
        Ok(Answer {
            document: answer.to_json_string(),
            decimal: answer.result,
        })
    })
}

/// Prints the JSON document or the bare decimal; a refused argument prints the message the
/// problem document's `detail` would carry on stderr, and exits 2.
fn respond(json: bool, compute: impl FnOnce() -> Result<Answer, ArgumentError>) -> ExitCode {
    match compute() {
        Ok(answer) if json => print_line(&answer.document),
        Ok(answer) => print_line(&answer.decimal),
        Err(error) => {
            eprintln!("mathapi: {error}");
            ExitCode::from(EXIT_BAD_ARGUMENT)
        }
    }
}
