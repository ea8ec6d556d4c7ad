//! `mathapi`: parses the command line and runs what it names (the server by default).

use std::process::ExitCode;

use mathapi::cli::{Command, Request, parse};
use mathapi::{compute, sequence, serve};

fn main() -> ExitCode {
    match parse() {
        Request::Compute(function, matches) => compute::run(function, &matches),
        Request::Fixed(cli) => match cli.command {
            None => serve(&cli.serve),
            Some(Command::Serve(args)) => serve(&args),
            Some(Command::Sequence(command)) => sequence::run(&command),
            Some(Command::Functions(command)) => compute::list(&command),
        },
    }
}
