//! `mathapi`: parses the command line and runs what it names (the server by default).

use std::process::ExitCode;

use clap::Parser;
use mathapi::cli::{Cli, Command};
use mathapi::{compute, sequence, serve};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        None => serve(&cli.serve),
        Some(Command::Serve(args)) => serve(&args),
        Some(Command::Fibonacci(command)) => compute::fibonacci(&command),
        Some(Command::Factorial(command)) => compute::factorial(&command),
        Some(Command::Ackermann(command)) => compute::ackermann(&command),
        Some(Command::Sequence(command)) => sequence::run(&command),
    }
}
