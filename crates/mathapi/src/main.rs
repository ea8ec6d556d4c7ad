use std::process::ExitCode;

use clap::Parser;
use mathapi::cli::{Cli, run};

fn main() -> ExitCode {
    run(Cli::parse())
}
