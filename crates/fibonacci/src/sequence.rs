//! The sequence stepper: one shared, durable walk through the Fibonacci sequence.
//!
//! The store keeps only the index; the value F(index) is computed per answer (fast
//! doubling makes that microseconds), so the durable state is a single small number.

use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use mathapi_math::fibonacci;
use mathapi_sequence::{OpenError, RedisConfig, SequenceError, SequenceStore, Store, StoreConfig};
use mathapi_service::{Metrics, Problem, Readiness, ResponseExample};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge};
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, ToJSON};
use poem_openapi::{ApiResponse, Object};

/// The largest index any configuration may allow (the Fibonacci service's own hard cap).
pub const HARD_MAX_INDEX: u64 = crate::HARD_MAX_N;

/// Where the stepper keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A crash-safe file in `--sequence-data-dir` (one instance).
    Embedded,
    /// A Redis server at `--redis-url` (several replicas share it).
    Redis,
}

/// The sequence stepper's settings.
#[derive(Debug, Clone, clap::Args)]
pub struct SequenceArgs {
    /// Storage backend of the sequence stepper.
    #[arg(long = "sequence-backend", env = "MATHAPI_SEQUENCE_BACKEND", value_enum, default_value_t = Backend::Embedded)]
    pub backend: Backend,

    /// Directory of the embedded backend's state file (relative to the working directory).
    #[arg(
        long = "sequence-data-dir",
        env = "MATHAPI_SEQUENCE_DATA_DIR",
        default_value = "data"
    )]
    pub data_dir: PathBuf,

    /// Redis server of the redis backend.
    #[arg(
        long = "redis-url",
        env = "MATHAPI_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// Largest index `next` may reach (at most 100000).
    #[arg(
        long = "sequence-max-index",
        env = "MATHAPI_SEQUENCE_MAX_INDEX",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(0..=HARD_MAX_INDEX)
    )]
    pub max_index: u64,
}

impl SequenceArgs {
    /// Embedded storage in `data_dir`, default limits: for tests and examples.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        SequenceArgs {
            backend: Backend::Embedded,
            data_dir: data_dir.into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            max_index: 10_000,
        }
    }

    fn store_config(&self) -> StoreConfig {
        match self.backend {
            Backend::Embedded => StoreConfig::Embedded {
                dir: self.data_dir.clone(),
            },
            Backend::Redis => StoreConfig::Redis(RedisConfig::new(self.redis_url.clone())),
        }
    }
}

/// A position in the sequence.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SequenceValue {
    /// How many steps from the start: the walk reads F(0), F(1), F(2), ...
    pub index: u64,
    /// F(index), exact, as a decimal string.
    pub value: String,
}

impl Example for SequenceValue {
    fn example() -> Self {
        SequenceValue {
            index: 3,
            value: "2".into(),
        }
    }
}

/// Answers of the stepper's operations. None may be cached: each reflects shared state.
#[derive(Debug, ApiResponse)]
pub enum SequenceResponse {
    /// The new (or current) position.
    #[oai(status = 200)]
    Ok(Json<SequenceValue>, #[oai(header = "Cache-Control")] String),
    /// `previous` at index 0, or `next` at the maximum index; nothing changed.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
    /// The storage (Redis) cannot be reached; retry later.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
    /// The storage failed; the step may or may not have been recorded.
    #[oai(status = 500, content_type = "application/problem+json")]
    Failed(Json<Box<Problem>>, #[oai(header = "Cache-Control")] String),
}

const NO_STORE: &str = "no-store";

/// What a request asks of the stepper.
#[derive(Debug, Clone, Copy)]
pub enum Operation {
    Current,
    Next,
    Previous,
    Reset,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Current => "current",
            Operation::Next => "next",
            Operation::Previous => "previous",
            Operation::Reset => "reset",
        }
    }
}

/// The stepper: its store, its limit, its metrics.
#[derive(Clone)]
pub struct Sequence {
    store: Store,
    max_index: u64,
    steps: Counter<u64>,
    index: Gauge<u64>,
}

/// Commits are fsyncs or Redis round trips: tens of microseconds to tens of milliseconds.
const COMMIT_BUCKETS: [f64; 16] = [
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

impl Sequence {
    /// Opens the configured store. Must run inside the Tokio runtime. An unreachable Redis is
    /// not an error here: operations answer 503 and `/ready` fails until it is back.
    pub fn open(args: &SequenceArgs, metrics: &Metrics) -> Result<Self, OpenError> {
        let meter = metrics.meter();
        let commits = meter
            .f64_histogram("mathapi.sequence.commit.duration")
            .with_unit("s")
            .with_description("Time for a sequence state change to become durable.")
            .with_boundaries(COMMIT_BUCKETS.to_vec())
            .build();
        let backend = KeyValue::new(
            "backend",
            match args.backend {
                Backend::Embedded => "embedded",
                Backend::Redis => "redis",
            },
        );
        let on_commit = Arc::new(move |elapsed: std::time::Duration| {
            commits.record(elapsed.as_secs_f64(), std::slice::from_ref(&backend));
        });
        let store = Store::open(&args.store_config(), Some(on_commit))?;
        Ok(Sequence {
            store,
            max_index: args.max_index,
            steps: meter
                .u64_counter("mathapi.sequence.steps")
                .with_description("Sequence stepper requests by operation and outcome.")
                .build(),
            index: meter
                .u64_gauge("mathapi.sequence.index")
                .with_description("The stepper's index as this process last saw it.")
                .build(),
        })
    }

    /// The largest index `next` may reach.
    pub fn max_index(&self) -> u64 {
        self.max_index
    }

    /// Performs `operation` and answers with the new position or a problem document.
    pub async fn run(&self, operation: Operation) -> SequenceResponse {
        mathapi_service::note_call("sequence", operation.name());
        let result = match operation {
            Operation::Current => self.store.current().await,
            Operation::Next => self.store.next(self.max_index).await,
            Operation::Previous => self.store.previous().await,
            Operation::Reset => self.store.reset().await,
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(SequenceError::AtEnd { .. } | SequenceError::AtStart) => "conflict",
            Err(SequenceError::Unavailable(_)) => "unavailable",
            Err(SequenceError::Io(_)) => "error",
        };
        self.steps.add(
            1,
            &[
                KeyValue::new("operation", operation.name()),
                KeyValue::new("outcome", outcome),
            ],
        );
        match result {
            Ok(index) => {
                self.index.record(index, &[]);
                let value = fibonacci(index).to_string();
                SequenceResponse::Ok(Json(SequenceValue { index, value }), NO_STORE.into())
            }
            Err(error) => self.problem(operation, error),
        }
    }

    fn problem(&self, operation: Operation, error: SequenceError) -> SequenceResponse {
        let problem = problem_for(&error);
        mathapi_service::note_problem(&problem);
        let operation = operation.name();
        match error {
            SequenceError::AtEnd { index } => {
                tracing::debug!(operation, index, "sequence at its end")
            }
            SequenceError::AtStart => tracing::debug!(operation, "sequence at its start"),
            SequenceError::Unavailable(_) => {
                tracing::warn!(operation, detail = %problem.detail, "sequence storage unavailable")
            }
            SequenceError::Io(_) => {
                tracing::error!(operation, detail = %problem.detail, "sequence storage failed")
            }
        }
        let body = Json(Box::new(problem));
        match body.status_code() {
            StatusCode::CONFLICT => SequenceResponse::Conflict(body, NO_STORE.into()),
            StatusCode::SERVICE_UNAVAILABLE => SequenceResponse::Unavailable(body, NO_STORE.into()),
            _ => SequenceResponse::Failed(body, NO_STORE.into()),
        }
    }
}

/// How the stepper answers each error: the one place its problem documents are defined.
fn problem_for(error: &SequenceError) -> Problem {
    let (status, reason, title) = match error {
        SequenceError::AtEnd { .. } => (
            StatusCode::CONFLICT,
            "sequence_at_end",
            "The sequence is at its end",
        ),
        SequenceError::AtStart => (
            StatusCode::CONFLICT,
            "sequence_at_start",
            "The sequence is at its start",
        ),
        SequenceError::Unavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            "Sequence storage unavailable",
        ),
        SequenceError::Io(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage_failed",
            "Sequence storage failed",
        ),
    };
    Problem::typed(status, reason, title, error.to_string())
}

/// Example answers of the stepper's operations, for the OpenAPI document.
pub(crate) fn examples(max_index: u64) -> Vec<ResponseExample> {
    let example = |error: SequenceError| problem_for(&error).to_json().unwrap_or_default();
    let unavailable = example(SequenceError::Unavailable("connection refused".into()));
    let mut examples = vec![
        ResponseExample {
            path: "/fibonacci/next",
            status: 409,
            value: example(SequenceError::AtEnd { index: max_index }),
        },
        ResponseExample {
            path: "/fibonacci/previous",
            status: 409,
            value: example(SequenceError::AtStart),
        },
    ];
    for path in [
        "/fibonacci/current",
        "/fibonacci/next",
        "/fibonacci/previous",
        "/fibonacci/reset",
    ] {
        examples.push(ResponseExample {
            path,
            status: 503,
            value: unavailable.clone(),
        });
    }
    examples
}

impl Readiness for Sequence {
    fn name(&self) -> &'static str {
        "sequence storage"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            match self.store.ready().await {
                true => Ok(()),
                false => Err(format!(
                    "the {} backend is unreachable",
                    self.store.backend_name()
                )),
            }
        })
    }
}
