//! Fault injection for demonstrations: added latency and an error rate per function, to show
//! an incident on the dashboards (`make demo-incident`, docs/stack.md).
//!
//! Off unless the process starts with a fault file (`--fault-file` / `MATHAPI_FAULT_FILE`);
//! without one nothing can switch a fault on. With one, the file is read at start-up and
//! again on every `SIGHUP`, so changing a fault needs write access to the file *and* the right
//! to signal the process: no listening socket, nothing an HTTP client can reach. A file that
//! is missing means "no faults"; a file that does not parse, or asks for more than the bounds
//! (at most 10 s of latency, an error rate from 0 to 1), is refused and the faults in force
//! stay as they were.
//!
//! The file is JSON, one entry per function (the first segment of its paths):
//!
//! ```json
//! {"fibonacci": {"latency_ms": 400, "error_rate": 0.5}}
//! ```
//!
//! A fault applies to the requests of that function's published routes (not to its
//! documentation, `/health`, `/ready` or `/metrics`); the HTTP middleware of `mathapi-http`
//! injects it. Every injected fault is counted in `mathapi_injected_faults_total` and named
//! in the request's log line (`fault`); every reload is logged and counted in
//! `mathapi_fault_reloads_total`.
//!
//! # Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `settings` | the fault file: its format, its bounds, reading and checking it ([`FaultError`]) |
//! | `switch` | the faults in force: drawn per request, reloaded on `SIGHUP` ([`FaultSwitch`], [`Injected`]) |
//!
//! [`FaultArgs`] is the flag every server takes.

mod settings;
mod switch;

use std::path::PathBuf;

pub use settings::{FaultError, READ_TIMEOUT};
pub use switch::{FaultSwitch, Injected, reload_on_sighup};

/// The fault-injection flag every server takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FaultArgs {
    /// Enables fault injection for demonstrations, read from this JSON file at start-up and
    /// on SIGHUP (docs/stack.md). Without it faults cannot be switched on.
    #[arg(long, env = "MATHAPI_FAULT_FILE")]
    pub fault_file: Option<PathBuf>,
}
