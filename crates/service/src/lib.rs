//! Shared plumbing for the mathapi services: everything a request passes through on the way
//! in and out, and everything a server process does around its API.
//!
//! A service crate contributes only its API (a `poem-openapi` type implementing
//! [`MathApi`]); the three services and the all-in-one binary then behave the same.
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
//! | `ops` | `/health`, `/ready`, `/metrics` ([`OpsApi`], [`Readiness`]) |
//! | `app` | assembling APIs, documents and middleware into one endpoint |
//! | `middleware` | request id, request span, metrics, the request log line, errors as problems |
//! | [`request_id`] | which client request ids are kept, and new ones |
//! | `request_log` | what a handler tells the request's log line (function, timings, …) |
//! | `render_cache` | rendered math answers kept under a byte budget ([`RenderCache`]) |
//! | [`telemetry`] | logging (Bunyan lines through a buffered sink), metrics, and OTLP traces when configured |
//! | `cli` | the flags every server shares ([`ServerArgs`]), a service's command line |
//! | `cors` | cross-origin access: math routes public, stepper writes same-origin ([`MathCors`]) |
//! | `server` | our accept loop on hyper-util: connection limits, timeouts, drain ([`Application`]) |
//! | `fault` | injected latency and errors for demonstrations, reloaded on SIGHUP ([`FaultSwitch`]) |
//! | `process` | the whole life of a server binary: logging, runtime, signals, exit codes |

mod api;
mod app;
mod arguments;
mod call;
mod cli;
mod cors;
mod docs;
mod limits;
mod middleware;
mod ops;
mod problem;
mod process;
mod render_cache;
pub mod request_id;
mod request_log;
mod server;

pub use api::{Annotations, HeaderRule, MathApi, ParamBound, ResponseExample};
pub use app::{api_docs, single_api_app, single_api_app_with_cache, with_middleware};
pub use arguments::{ArgumentError, parse_argument};
pub use call::{Call, SHED_REQUESTS};
pub use cli::{ServerArgs, ServiceCli};
pub use cors::MathCors;
pub use docs::Docs;
pub use mathapi_faults::{FaultArgs, FaultError, FaultSwitch, Injected};
pub use limits::{ComputeSettings, Cost};
pub use middleware::{Observe, RouteTemplates};
pub use ops::{OpsApi, Readiness};
pub use problem::{PROBLEM_JSON, Problem, ProblemResponse};
pub use process::{run, run_service, shutdown_signal};
pub use render_cache::{DEFAULT_RENDER_CACHE_BYTES, IMMUTABLE, RenderCache};
pub use request_log::{note_call, note_problem};
pub use server::{Application, Draining, ServerSettings};
pub use mathapi_telemetry as telemetry;
pub use telemetry::{LogSink, Metrics, VERSION};
