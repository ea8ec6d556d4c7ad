//! Writing answers to stdout without panicking when the reader goes away.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

use crate::cli::EXIT_FAILURE;

/// Writes `text` and a newline to stdout. A closed pipe (`mathapi fibonacci 99999 | head
/// -c 10`) is the reader's choice, not an error; any other write error exits 1.
pub fn print_line(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mathapi: cannot write the answer: {error}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
