//! The server runtime every mathapi binary runs its app in: the accept loop, the command line
//! every server shares, and the whole life of a server process.
//!
//! A binary builds its app from `mathapi-http` (an API in the middleware) and hands it to
//! [`run`] (or, for a one-API service, calls [`run_service`]); the three services and the
//! all-in-one binary then start, serve and stop the same way.
//!
//! # Layout
//!
//! | module | what it holds |
//! |---|---|
//! | `server` | our accept loop on hyper-util: connection limits, timeouts, drain ([`Application`]) |
//! | `parse_errors` | problem documents, not hyper's bare answers, for requests its parser refuses |
//! | `cli` | the flags every server shares ([`ServerArgs`]), a one-API service's command line ([`ServiceCli`]) |
//! | `process` | the whole life of a server binary: logging, runtime, faults, signals, exit codes ([`run`]) |

mod cli;
mod parse_errors;
mod process;
mod server;

pub use cli::{ServerArgs, ServiceCli};
pub use process::{RunSettings, run, run_service};
pub use server::{
    Application, DEFAULT_MAX_HEADER_BYTES, MAX_HEADERS, MIN_MAX_HEADER_BYTES, ServerSettings,
};
