//! `mathapi <function> <ARG>...`: one value, computed in this process with the services' own
//! argument parsing, limits and documents, so the CLI and the API agree on every answer and
//! every error message; and `mathapi functions`, the list itself.

use std::process::ExitCode;

use clap::ArgMatches;
use mathapi_function::{Entry, catalog_json, run_subcommand};

use crate::cli::FunctionsCommand;
use crate::output::{EXIT_BAD_ARGUMENT, print_line};

/// Prints the JSON document or the bare decimal; a refused argument prints the message the
/// problem document's `detail` would carry on stderr, and exits 2.
pub fn run(function: &Entry, matches: &ArgMatches) -> ExitCode {
    match run_subcommand(function, matches) {
        (Ok(answer), true) => print_line(&answer.document),
        (Ok(answer), false) => print_line(&answer.decimal),
        (Err(error), _) => {
            eprintln!("mathapi: {error}");
            ExitCode::from(EXIT_BAD_ARGUMENT)
        }
    }
}

/// `mathapi functions`: one line per function (name, route, default port), or with `--json`
/// the list as `configs/functions.json` holds it.
pub fn list(command: &FunctionsCommand) -> ExitCode {
    let entries = mathapi_functions::entries();
    if command.json {
        let json = catalog_json(entries, mathapi_sequence_api::PREFIX);
        return print_line(json.trim_end());
    }
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let d = e.description;
            format!(
                "{:<12} {:<24} port {}  {}",
                d.name,
                d.route(),
                d.default_port,
                d.summary
            )
        })
        .collect();
    print_line(&lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_functions_json_is_the_list() {
        let committed = include_str!("../../../configs/functions.json");
        assert_eq!(
            catalog_json(mathapi_functions::entries(), mathapi_sequence_api::PREFIX),
            committed,
            "configs/functions.json is stale: run `make generate`"
        );
    }
}
