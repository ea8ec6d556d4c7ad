//! The HTTP contract of the mathapi servers: everything a request passes through on the way
//! in and out, and what every server answers besides its API.
//!
//! A service crate contributes only its API (a `poem-openapi` type implementing
//! [`MathApi`]); this crate puts it in the middleware with the operational endpoints and its
//! documents, so the three services and the all-in-one binary answer the same way. The
//! server runtime that serves the result is `mathapi-server`.
//!
//! # Layout
//!
//! One concern per module:
//!
//! | module | what it holds |
//! |---|---|
//! | `api` | the [`MathApi`] trait a service implements, and what it tells the documents |
//! | `arguments` | parsing raw path segments into validated integers ([`ArgumentError`]) |
//! | `call` | serving one math request: parse, compute, count, answer ([`Call`]) |
//! | `limits` | the compute limit: heavy work on the blocking pool, load shedding ([`Cost`]) |
//! | `problem` | RFC 9457 problem documents: the one shape of every error ([`Problem`]) |
//! | `docs` | the published OpenAPI documents and Swagger UI pages ([`Docs`]) |
//! | `ops` | `/health`, `/ready`, `/metrics` ([`OpsApi`], [`Readiness`], [`Draining`]) |
//! | `app` | assembling APIs, documents and middleware into one endpoint ([`AppContext`]) |
//! | `middleware` | one layer per job: request id, metrics and the log line, `Host` rules, faults, cached answers, errors as problems |
//! | [`request_id`] | which client request ids are kept, and new ones |
//! | `request_log` | what a handler tells the request's log line (function, timings, …) |
//! | `render_cache` | rendered math answers kept under a byte budget ([`RenderCache`]) |
//! | `cache_events` | the render cache's hits, misses and evictions per function, counted for `/metrics` |
//! | `cors` | cross-origin access: math routes public, stepper writes same-origin ([`MathCors`]) |
//! | `unparsed` | the answer to a request the HTTP/1.1 parser refused ([`refuse_unparsed`]) |

mod api;
mod app;
mod arguments;
mod cache_events;
mod call;
mod cors;
mod docs;
mod limits;
mod middleware;
mod ops;
mod problem;
mod render_cache;
pub mod request_id;
mod request_log;
mod unparsed;

pub use api::{Annotations, HeaderRule, MathApi, ParamBound, ResponseExample, Withdrawn};
pub use app::{AppContext, api_docs, single_api_app, with_middleware};
pub use arguments::{ArgumentError, parse_argument};
pub use call::Call;
pub use cors::{MathCors, PublicOrigins};
pub use docs::Docs;
pub use limits::{ComputeLimit, ComputeSettings, Cost, Shed, run as compute_within_limit};
pub use middleware::RouteTemplates;
pub use ops::{Draining, OpsApi, Readiness};
pub use problem::{PROBLEM_JSON, Problem, ProblemResponse};
pub use render_cache::{DEFAULT_RENDER_CACHE_BYTES, RenderCache};
pub use request_log::{note_call, note_problem};
pub use unparsed::{HeadLimits, Unparsed, refuse_unparsed};
