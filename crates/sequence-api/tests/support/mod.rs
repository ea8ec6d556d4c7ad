//! A server process for the tests that need one (`kill -9`, the exit code at start-up, the
//! log lines and `/metrics` of a real process).
//!
//! A test crate cannot run another package's binary, so the test binary itself is the
//! server: [`start_server`] re-runs it with only the test `server_child` selected and the
//! server's arguments in [`ARGS_VAR`]; that test calls [`serve_if_child`], which serves as
//! the `fibonacci` binary does (`GET /fibonacci/{n}/` with the sequence's routes, the
//! same flags, logs, metrics and exit codes; without the front page) and exits with its
//! code. Each test file that uses it declares:
//!
//! ```ignore
//! #[test]
//! fn server_child() {
//!     support::serve_if_child();
//! }
//! ```

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use mathapi_fibonacci::{Fibonacci, FibonacciApi};
use mathapi_function::{Limits, One};
use mathapi_http::single_api_app;
use mathapi_sequence_api::{WithSequence, WithSequenceArgs};
use mathapi_server::{RunSettings, ServiceCli};
use mathapi_testing::RunningBinary;

/// The server's arguments, one per line; set only in the child.
pub const ARGS_VAR: &str = "MATHAPI_SEQUENCE_API_TEST_SERVER_ARGS";
/// The test that turns into the server.
const CHILD_TEST: &str = "server_child";

type Service = WithSequence<FibonacciApi>;

/// In the child, serves until a signal and exits with the server's code (0 after a clean
/// shutdown, 1 when start-up fails, 2 on bad flags). Elsewhere returns at once.
pub fn serve_if_child() {
    let Ok(args) = std::env::var(ARGS_VAR) else {
        return;
    };
    // The test harness has written `test server_child ... ` without a newline: end that
    // line, so that the first log line is a line of its own.
    let _ = std::io::stdout().write_all(b"\n");
    let argv = std::iter::once("fibonacci").chain(args.lines());
    let cli = ServiceCli::<WithSequenceArgs<Limits<One<Fibonacci>>>>::try_parse_from(argv)
        .unwrap_or_else(|error| error.exit());
    let code = mathapi_server::run(RunSettings::of_api::<Service>(&cli.server), |context| {
        let fibonacci = FibonacciApi::new(&cli.service.api, &context.metrics);
        let api = Service::open(fibonacci, &cli.service.sequence, &context.metrics)
            .map_err(|e| e.to_string())?;
        Ok(single_api_app(api, context))
    });
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 });
}

/// The command that runs the server child with `args`.
pub fn server_command(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads", "1"])
        .env(ARGS_VAR, args.join("\n"));
    command
}

/// The server child on a free loopback port, started with `args` and `env`, once it
/// listens.
pub async fn start_server(args: &[&str], env: &[(&str, &str)]) -> RunningBinary {
    let args = [&["--host", "127.0.0.1", "--port", "0"], args].concat();
    let mut command = tokio::process::Command::from(server_command(&args));
    command.envs(env.iter().copied());
    RunningBinary::start_command(command).await
}
