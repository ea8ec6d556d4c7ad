//! The shared Fibonacci sequence's HTTP API: `GET /fibonacci/current`, and `POST` (or, when
//! an operator allows it, the deprecated `GET`) `/fibonacci/next`, `previous` and `reset`,
//! which walk one durable sequence shared by every client (the store is
//! `mathapi-sequence`).
//!
//! # Layout
//!
//! One module per concern, each re-exported here, so that users name everything from the
//! crate root:
//!
//! | Module | Holds |
//! |--------|-------|
//! | `args` | [`SequenceArgs`], the flags (each with an environment variable) and the store settings they make; [`Backend`]; [`HARD_MAX_INDEX`] |
//! | `sequence` | [`Sequence`]: the store, the commit deadline and metrics; [`Sequence::run`] performs one [`Operation`] |
//! | `health` | whether the storage answers: the gauge `mathapi_sequence_store_available`, the stall after a missed commit deadline, and the task that probes the storage (private; never part of `/ready`) |
//! | `api` | [`SequenceApi`], the routes (a `poem-openapi` API), and their answers: [`SequenceResponse`], [`SequenceValue`]; [`idempotency_key_rule`] |
//! | `key` | the `Idempotency-Key` header, read from its raw bytes and refused (`400`) when the store cannot use it (private) |
//! | `pair` | the current Fibonacci pair in decimal limbs, beside the store: a step is an addition, a value is rendered once (private) |
//! | `position` | [`Position`]: a position's JSON answer, rendered once per index and answered as it is, with [`SequenceValue`]'s schema |
//! | `problems` | the problem document of each error, and the examples of the OpenAPI document (private) |
//! | `with_sequence` | [`WithSequence`], which serves another API and the sequence's routes as one [`MathApi`](mathapi_http::MathApi), and [`WithSequenceArgs`], the command line of such a service |
//!
//! A request goes `api` → `sequence` → the store, and an error comes back through
//! `problems`.
//!
//! # Serving it
//!
//! The sequence's routes live under `/fibonacci/` ([`PREFIX`]), so the services that serve
//! `GET /fibonacci/{n}/` serve them too, with [`WithSequence`]: the function's own binary
//! (`mathapi-serve`) and the all-in-one (`mathapi`).
//!
//! The routes, the answers, the problem documents, the `Cache-Control: no-store` and
//! `Allow` headers, the metrics (`mathapi_sequence_*`) and the log fields are the
//! published contract: README.md and docs/observability.md describe them.

#![warn(missing_docs)]

mod api;
mod args;
mod health;
mod key;
mod pair;
mod position;
mod problems;
mod sequence;
mod with_sequence;

pub use api::{SequenceApi, SequenceResponse, SequenceValue, idempotency_key_rule};
pub use args::{Backend, HARD_MAX_INDEX, SequenceArgs};
pub use mathapi_sequence::{OpenError, Operation, SyncHook};
pub use position::Position;
pub use sequence::{CHEAP_MAX_INDEX, Sequence};
pub use with_sequence::{WithSequence, WithSequenceArgs};

/// The first segment of every route of the sequence: it walks the Fibonacci sequence, so the
/// service of the function with this name serves it (its binary, and the all-in-one beside
/// that function's API).
pub const PREFIX: &str = "fibonacci";

#[cfg(test)]
mod tests {
    use poem_openapi::OpenApi;

    use super::*;

    #[test]
    fn every_route_is_under_the_prefix() {
        let paths: Vec<String> = SequenceApi::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .map(|path| path.path)
            .collect();
        assert!(!paths.is_empty());
        for path in paths {
            assert!(path.starts_with(&format!("/{PREFIX}/")), "{path}");
        }
    }
}
