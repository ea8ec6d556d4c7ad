//! The command line's types: `mathapi [serve]` runs the server; `sequence` steps the shared
//! sequence; `functions` lists the functions; and every function of the list is a subcommand
//! of its own (`mathapi fibonacci 100`, `mathapi ackermann 2 3`), built from its description
//! ([`command`]). The modules that run the subcommands (`compute`, `sequence`) take these
//! types; this one knows nothing of them.
//!
//! The server's flags are accepted both at the top level (so existing `mathapi --port 0 ...`
//! scripts keep working) and after `serve`; `args_conflicts_with_subcommands` keeps the two
//! forms apart, so `mathapi --port 1 fibonacci 3` is a usage error rather than a silent
//! ignore. Every subcommand reuses the services' own flags, parsing and limits.

use clap::{ArgMatches, CommandFactory, FromArgMatches};
use mathapi_function::Entry;
use mathapi_sequence::Operation;
use mathapi_sequence_api::SequenceArgs;

use crate::Args;

/// The `mathapi` command line's fixed part; [`command`] adds a subcommand per function.
#[derive(Debug, clap::Parser)]
#[command(
    name = "mathapi",
    version,
    about = "The mathapi all-in-one server: every function on one port, and the same \
             functions on the command line",
    long_about = None,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    /// What to do; without one, serve.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The server's settings when no subcommand is given.
    #[command(flatten)]
    pub serve: Args,
}

/// The subcommands that are not functions.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(Args),
    /// Show or step the shared, durable Fibonacci sequence: locally or through a server.
    Sequence(SequenceCommand),
    /// List the functions (`--json`: the list as `configs/functions.json` holds it).
    Functions(FunctionsCommand),
}

/// `mathapi functions [--json]`.
#[derive(Debug, clap::Args)]
pub struct FunctionsCommand {
    /// Print the list as JSON (name, binary, port, route, parameters, page).
    #[arg(long)]
    pub json: bool,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Request {
    /// One of the fixed subcommands, or the server.
    Fixed(Box<Cli>),
    /// A function's subcommand, with its own matches.
    Compute(&'static Entry, ArgMatches),
}

/// The whole command line: [`Cli`] and a subcommand per function of the list.
pub fn command() -> clap::Command {
    mathapi_functions::entries()
        .iter()
        .fold(Cli::command(), |command, entry| {
            command.subcommand(mathapi_function::subcommand(entry))
        })
}

/// Parses the process's arguments; exits with clap's message and code 2 on a usage error.
pub fn parse() -> Request {
    parse_from(std::env::args_os()).unwrap_or_else(|error| error.exit())
}

/// Parses `args` (the program name first).
pub fn parse_from<I, T>(args: I) -> Result<Request, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().try_get_matches_from(args)?;
    if let Some((name, matches)) = matches.subcommand()
        && let Some(entry) = mathapi_functions::find(name)
    {
        return Ok(Request::Compute(entry, matches.clone()));
    }
    Cli::from_arg_matches(&matches).map(|cli| Request::Fixed(Box::new(cli)))
}

/// `mathapi sequence current|next|previous|reset`.
#[derive(Debug, clap::Args)]
pub struct SequenceCommand {
    /// The operation.
    #[arg(value_enum)]
    pub operation: Operation,
    /// Step the sequence of the server at this base URL (e.g. http://127.0.0.1:8000) instead
    /// of the local store.
    #[arg(long, env = "MATHAPI_URL", value_name = "URL")]
    pub url: Option<String>,
    /// Print the JSON document the HTTP API returns instead of `index value`.
    #[arg(long)]
    pub json: bool,
    /// The local store: the same flags and defaults as the server's.
    #[command(flatten)]
    pub store: SequenceArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_function_is_a_subcommand() {
        for entry in mathapi_functions::entries() {
            let args = ["mathapi", entry.name()]
                .into_iter()
                .map(String::from)
                .chain(entry.description.params.iter().map(|_| "1".to_string()));
            match parse_from(args).unwrap() {
                Request::Compute(parsed, _) => assert_eq!(parsed.name(), entry.name()),
                Request::Fixed(cli) => panic!("{}: {cli:?}", entry.name()),
            }
        }
    }

    #[test]
    fn no_subcommand_is_the_server_with_its_flags() {
        let cli =
            Cli::try_parse_from(["mathapi", "--port", "0", "--fibonacci-max-n", "9"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.server.port, Some(0));
        let fibonacci = mathapi_functions::find("fibonacci").unwrap();
        assert_eq!(cli.serve.limits.maxima(fibonacci), vec![9]);
        let cli = Cli::try_parse_from(["mathapi", "serve", "--port", "0"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(args)) if args.server.port == Some(0)));
    }
}
