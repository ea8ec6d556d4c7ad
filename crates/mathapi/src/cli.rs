//! The command line's types: `mathapi [serve]` runs the server; `fibonacci`, `factorial`,
//! `ackermann` and `sequence` compute or step without one. The modules that run the
//! subcommands (`compute`, `sequence`) take these types; this one knows nothing of them.
//!
//! The server's flags are accepted both at the top level (so existing `mathapi --port 0 ...`
//! scripts keep working) and after `serve`; `args_conflicts_with_subcommands` keeps the two
//! forms apart, so `mathapi --port 1 fibonacci 3` is a usage error rather than a silent
//! ignore. Every subcommand reuses the services' own flags, parsing and limits.

use mathapi_ackermann::AckermannArgs;
use mathapi_factorial::FactorialArgs;
use mathapi_fibonacci::FibonacciArgs;
use mathapi_sequence::Operation;
use mathapi_sequence_api::SequenceArgs;

use crate::Args;

/// The `mathapi` command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "mathapi",
    version,
    about = "The mathapi all-in-one server: /fibonacci, /factorial and /ackermann on one port, \
             and the same functions on the command line",
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

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(Args),
    /// Print the n-th Fibonacci number F(n).
    Fibonacci(FibonacciCommand),
    /// Print n! (n factorial).
    Factorial(FactorialCommand),
    /// Print the Ackermann function A(m, n).
    Ackermann(AckermannCommand),
    /// Show or step the shared, durable Fibonacci sequence: locally or through a server.
    Sequence(SequenceCommand),
}

/// `mathapi fibonacci N`.
#[derive(Debug, clap::Args)]
pub struct FibonacciCommand {
    /// The argument n (a non-negative integer up to --fibonacci-max-n).
    #[arg(value_name = "N", allow_hyphen_values = true)]
    pub n: String,
    /// Print the JSON document the HTTP API returns instead of the bare number.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub limits: FibonacciArgs,
}

/// `mathapi factorial N`.
#[derive(Debug, clap::Args)]
pub struct FactorialCommand {
    /// The argument n (a non-negative integer up to --factorial-max-n).
    #[arg(value_name = "N", allow_hyphen_values = true)]
    pub n: String,
    /// Print the JSON document the HTTP API returns instead of the bare number.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub limits: FactorialArgs,
}

/// `mathapi ackermann M N`.
#[derive(Debug, clap::Args)]
pub struct AckermannCommand {
    /// The argument m (a non-negative integer up to --ackermann-max-m).
    #[arg(value_name = "M", allow_hyphen_values = true)]
    pub m: String,
    /// The argument n (a non-negative integer up to --ackermann-max-n).
    #[arg(value_name = "N", allow_hyphen_values = true)]
    pub n: String,
    /// Print the JSON document the HTTP API returns instead of the bare number.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub limits: AckermannArgs,
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
    use clap::{CommandFactory, Parser};

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_is_the_server_with_its_flags() {
        let cli =
            Cli::try_parse_from(["mathapi", "--port", "0", "--fibonacci-max-n", "9"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.server.port, Some(0));
        assert_eq!(cli.serve.fibonacci.max_n, 9);
        let cli = Cli::try_parse_from(["mathapi", "serve", "--port", "0"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(args)) if args.server.port == Some(0)));
    }
}
