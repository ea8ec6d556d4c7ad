//! What the subcommands give back: their answer on stdout, written without panicking when
//! the reader goes away, and their exit codes.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

/// Exit code of a failure that is not the caller's input: store or server trouble.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a refused argument (the API's `400`); clap's usage errors use it too.
pub const EXIT_BAD_ARGUMENT: u8 = 2;
/// Exit code of a step the sequence cannot take (the API's `409`).
pub const EXIT_CONFLICT: u8 = 3;

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
