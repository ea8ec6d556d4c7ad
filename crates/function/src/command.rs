//! A function on the command line: `mathapi <name> <ARG>... [--json] [--<name>-max-<param>]`,
//! built from its description and answered with the API's own parsing and document.

use clap::{Arg, ArgAction, ArgMatches, Command};
use mathapi_http::ArgumentError;

use crate::answer::{Answer, answer};
use crate::description::Entry;
use crate::limits::{add_limit_args, maxima_from};

/// The subcommand of `entry`.
pub fn subcommand(entry: &Entry) -> Command {
    let description = entry.description;
    let command = Command::new(description.name).about(description.summary);
    let command = description.params.iter().fold(command, |command, param| {
        command.arg(
            Arg::new(param.name)
                .value_name(param.name.to_uppercase())
                .required(true)
                .allow_hyphen_values(true)
                .help(format!(
                    "The argument {} (a non-negative integer up to --{}).",
                    param.name, param.flag
                )),
        )
    });
    let command = command.arg(
        Arg::new("json")
            .long("json")
            .action(ArgAction::SetTrue)
            .help("Print the JSON document the HTTP API returns instead of the bare number."),
    );
    add_limit_args(command, entry)
}

/// What the subcommand of `entry` asks for (`matches` are its own), and whether to print
/// the JSON document.
pub fn run_subcommand(
    entry: &Entry,
    matches: &ArgMatches,
) -> (Result<Answer, ArgumentError>, bool) {
    let raw: Vec<String> = entry
        .description
        .params
        .iter()
        .map(|param| {
            matches
                .get_one::<String>(param.name)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let maxima = maxima_from(entry, matches);
    (answer(entry, &raw, &maxima), matches.get_flag("json"))
}
