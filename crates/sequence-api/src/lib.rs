//! The shared Fibonacci sequence's HTTP API: `GET /fibonacci/current`, and `POST` (or the
//! deprecated `GET`) `/fibonacci/next`, `previous` and `reset`, which walk one durable
//! sequence shared by every client (the store is `mathapi-sequence`).
//!
//! # Layout
//!
//! One module per concern, each re-exported here, so that users name everything from the
//! crate root:
//!
//! | Module | Holds |
//! |--------|-------|
//! | `args` | [`SequenceArgs`], the flags (each with an environment variable) and the store settings they make; [`Backend`]; [`HARD_MAX_INDEX`] |
//! | `sequence` | [`Sequence`]: the store, the commit deadline, readiness and metrics; [`Sequence::run`] performs one [`Operation`] |
//! | `api` | [`SequenceApi`], the routes (a `poem-openapi` API), and their answers: [`SequenceResponse`], [`SequenceValue`], [`HeadRefused`]; [`idempotency_key_rule`] |
//! | `problems` | the problem document of each error, and the examples of the OpenAPI document (private) |
//! | `with_sequence` | [`WithSequence`], which serves another API and the sequence's routes as one [`MathApi`](mathapi_service::MathApi), and [`WithSequenceArgs`], the command line of such a service |
//!
//! A request goes `api` → `sequence` → the store, and an error comes back through
//! `problems`.
//!
//! # Serving it
//!
//! The sequence's routes live under `/fibonacci/`, so the services that serve `GET
//! /fibonacci/{n}/` serve them too, with [`WithSequence`]:
//!
//! ```no_run
//! # use mathapi_sequence_api::{SequenceArgs, WithSequence};
//! # use mathapi_fibonacci::{FibonacciApi, FibonacciArgs};
//! # fn app(args: &FibonacciArgs, sequence: &SequenceArgs, metrics: &mathapi_service::Metrics)
//! # -> Result<(), mathapi_sequence::OpenError> {
//! let api = WithSequence::open(FibonacciApi::new(args, metrics), sequence, metrics)?;
//! let app = mathapi_service::single_api_app(api, metrics);
//! # Ok(()) }
//! ```
//!
//! The routes, the answers, the problem documents, the `Cache-Control: no-store` and
//! `Allow` headers, the metrics (`mathapi_sequence_*`) and the log fields are the
//! published contract: README.md and docs/observability.md describe them.

#![warn(missing_docs)]

mod api;
mod args;
mod problems;
mod sequence;
mod with_sequence;

pub use api::{HeadRefused, SequenceApi, SequenceResponse, SequenceValue, idempotency_key_rule};
pub use args::{Backend, HARD_MAX_INDEX, SequenceArgs};
pub use mathapi_sequence::{OpenError, Operation, SyncHook};
pub use sequence::Sequence;
pub use with_sequence::{WithSequence, WithSequenceArgs};
