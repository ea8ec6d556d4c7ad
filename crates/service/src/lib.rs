//! Shared plumbing for the mathapi services: configuration, telemetry, the request
//! middleware, problem documents and server start-up.
//!
//! A service crate contributes only its API (a `poem-openapi` type implementing [`MathApi`]);
//! everything a request passes through on the way in and out lives here, so the three
//! services and the all-in-one binary behave the same.

pub mod arguments;
pub mod config;
pub mod cors;
pub mod docs;
pub mod middleware;
pub mod ops;
pub mod problem;
pub mod server;
pub mod telemetry;

pub use arguments::{ArgumentError, Call};
pub use config::ServerArgs;
pub use docs::{Annotations, Docs, MathApi, ParamBound, ResponseExample};
pub use middleware::RouteTemplates;
pub use ops::{OpsApi, Readiness};
pub use problem::{Problem, ProblemResponse};
pub use server::{Application, finish, run, run_service, single_api_app};
pub use telemetry::Metrics;
