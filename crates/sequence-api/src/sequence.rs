//! [`Sequence`]: the store behind the routes, the commit deadline, the storage's health and
//! metrics.
//!
//! The store keeps only the index, so the durable state is a single small number; the value
//! F(index) comes from the pair kept beside it (`pair`): a step is an addition, and F(index)
//! is rendered once. Values above [`CHEAP_MAX_INDEX`] (and so every jump that could be
//! expensive) are made on the compute pool under the compute limit, like the math routes'
//! heavy work, never on the async workers.
//!
//! # The commit deadline
//!
//! A state change that takes longer than `--sequence-commit-timeout` answers `504` (its
//! outcome is unknown: a stalled disk or Redis may still apply it), and marks the storage
//! stalled: until a probe through the store is answered again, changes are refused at once
//! with `503` (not applied) instead of piling up behind a stuck commit. A reset is always
//! tried: it is the operator's way out of a lost or invalid state, and must reach a
//! storage that answers again. `/ready` never depends on the storage (see `health`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mathapi_http::{Cost, Problem, ResponseExample, Shed};
use mathapi_sequence::{
    OpenError, Operation, SequenceError, SequenceStore, Store, SyncHook, valid_idempotency_key,
};
use mathapi_telemetry::Metrics;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Gauge};

use crate::health::Health;
use crate::pair::Pair;
use crate::position::Position;
use crate::{SequenceArgs, SequenceResponse, problems};

/// Commits are fsyncs or Redis round trips: tens of microseconds to tens of milliseconds.
const COMMIT_BUCKETS: [f64; 16] = [
    1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0,
];

/// The largest index whose value is made inline on the async worker: F(10 000) has 2 090
/// digits, and the pair steps to it with one addition of 117 limbs and formats them in a few
/// microseconds, less than handing the work to the compute pool costs. Larger values (up to
/// F(100 000), 20 899 digits) go to the pool.
pub const CHEAP_MAX_INDEX: u64 = 10_000;

/// The sequence: its store, its limits, its health and its metrics. Cheap to clone (clones
/// share the store and the health).
#[derive(Clone)]
pub struct Sequence {
    store: Arc<Store>,
    max_index: u64,
    commit_timeout: Duration,
    unsafe_get_steps: bool,
    health: Arc<Health>,
    /// The pair this process last answered, beside the store.
    pair: Arc<Mutex<Pair>>,
    steps: Counter<u64>,
    index: Gauge<u64>,
}

impl Sequence {
    /// Opens the configured store and starts watching its health. Must run inside the Tokio
    /// runtime. An unreachable Redis is not an error here: the stepper answers 503 (and
    /// `mathapi_sequence_store_available` is 0) until it is back.
    pub fn open(args: &SequenceArgs, metrics: &Metrics) -> Result<Self, OpenError> {
        Self::open_with_sync_hook(args, metrics, None)
    }

    /// [`Sequence::open`], with a hook the embedded store calls before each `fdatasync`
    /// (tests use it to stall the disk for real).
    pub fn open_with_sync_hook(
        args: &SequenceArgs,
        metrics: &Metrics,
        before_sync: Option<SyncHook>,
    ) -> Result<Self, OpenError> {
        let meter = metrics.meter();
        let commits = meter
            .f64_histogram("mathapi.sequence.commit.duration")
            .with_unit("s")
            .with_description("Time for a sequence state change to become durable.")
            .with_boundaries(COMMIT_BUCKETS.to_vec())
            .build();
        let backend = KeyValue::new("backend", args.backend_name());
        let on_commit = Arc::new(move |elapsed: Duration| {
            commits.record(elapsed.as_secs_f64(), std::slice::from_ref(&backend));
        });
        let options = mathapi_sequence::StoreOptions {
            on_commit: Some(on_commit),
            before_sync,
            ..args.store_options()
        };
        let store = Store::open_with(&args.store_config(), &options)?;
        // The store logs a recovery at warn with both indices; the counter makes it alertable.
        meter
            .u64_counter("mathapi.sequence.recoveries")
            .with_description(
                "Times the sequence state was opened from its older slot because the newer was damaged.",
            )
            .build()
            .add(u64::from(store.recovery().is_some()), &[]);
        // The embedded store is open and answering; Redis is unknown until the first probe.
        let shared = matches!(store, Store::Redis(_));
        let health = Health::new(meter, args.backend_name(), args.commit_timeout, !shared);
        let store = Arc::new(store);
        health.spawn_monitor(Arc::downgrade(&store), shared);
        Ok(Sequence {
            store,
            max_index: args.max_index,
            commit_timeout: args.commit_timeout,
            unsafe_get_steps: args.unsafe_get_steps,
            health,
            pair: Arc::default(),
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

    /// Whether `GET` steps too (`--sequence-unsafe-get-steps`).
    pub fn unsafe_get_steps(&self) -> bool {
        self.unsafe_get_steps
    }

    /// Example answers of the sequence's operations, for the OpenAPI document.
    pub fn examples(&self) -> Vec<ResponseExample> {
        problems::examples(self.max_index)
    }

    /// Performs `operation` (with an optional `Idempotency-Key`) and answers with the new
    /// position or a problem document.
    pub async fn run(&self, operation: Operation, key: Option<&str>) -> SequenceResponse {
        mathapi_http::note_call("sequence", operation.name());
        if key.is_some_and(|key| !valid_idempotency_key(key)) {
            let problem = problems::invalid_key("is not 1 to 255 visible ASCII characters");
            mathapi_http::note_problem(&problem);
            return SequenceResponse::bad_request(problem);
        }
        let result = self.perform(operation, key).await;
        let outcome = result.as_ref().map_or_else(problems::outcome_of, |_| "ok");
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
                match self.position_of(index, operation.changes_state()).await {
                    Ok(position) => SequenceResponse::ok(position),
                    Err(shed) => Self::overloaded(shed),
                }
            }
            Err(error) => Self::problem(operation, &error),
        }
    }

    /// The answer of F(`index`), from the pair beside the store: inline up to
    /// [`CHEAP_MAX_INDEX`], else on the compute pool. The pool may shed a read (`503`,
    /// nothing was changed); a change is already durable, so its answer is made inline
    /// rather than refused (a `503` would tell the client it was not applied).
    async fn position_of(&self, index: u64, changed: bool) -> Result<Position, Shed> {
        let cost = Cost::by_size(index, CHEAP_MAX_INDEX);
        let pair = Arc::clone(&self.pair);
        match mathapi_http::compute_within_limit(cost, move || position_at(&pair, index)).await {
            Err(_) if changed => Ok(position_at(&self.pair, index)),
            result => result,
        }
    }

    /// The answer when the compute pool is full. The step itself is durable: only its
    /// value could not be made now; `GET /fibonacci/current` shows the position.
    fn overloaded(shed: Shed) -> SequenceResponse {
        let problem = Problem::typed(
            poem::http::StatusCode::SERVICE_UNAVAILABLE,
            shed.reason.as_str(),
            "Service overloaded",
            format!(
                "every computation slot is busy and the queue is full; retry after {} s (a step was applied: GET /fibonacci/current shows the position)",
                shed.retry_after.as_secs().max(1)
            ),
        );
        mathapi_http::note_problem(&problem);
        SequenceResponse::problem(problem)
    }

    /// The store call, under the commit deadline, refused while the store is stalled (but
    /// a reset); its outcome updates the storage's health.
    async fn perform(&self, operation: Operation, key: Option<&str>) -> Result<u64, SequenceError> {
        let changes = operation.changes_state();
        if changes && operation != Operation::Reset && self.health.is_stalled() {
            return Err(SequenceError::Unavailable(format!(
                "an earlier change took longer than the {} commit deadline and the storage has not answered since",
                humantime::format_duration(self.commit_timeout)
            )));
        }
        let call = self.store.apply(operation, self.max_index, key);
        let result = match tokio::time::timeout(self.commit_timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(self.missed_deadline(changes)),
        };
        match &result {
            // The store's own deadline (Redis's reply timeout) or the commit deadline ran out.
            Err(SequenceError::OutcomeUnknown(_)) => self.health.mark_stalled(),
            _ => self.health.observe(changes, &result),
        }
        let index = result?;
        // Both stores refuse an index beyond the maximum; this guards the computation even so.
        if index > self.max_index {
            return Err(SequenceError::OutOfRange {
                stored: index.to_string(),
                max: self.max_index,
            });
        }
        Ok(index)
    }

    /// What became of a call that missed the deadline.
    fn missed_deadline(&self, mutating: bool) -> SequenceError {
        let deadline = humantime::format_duration(self.commit_timeout);
        match mutating {
            true => SequenceError::OutcomeUnknown(format!(
                "no answer within the {deadline} commit deadline: the step may still be applied; \
                 retry with the same Idempotency-Key to find out"
            )),
            false => {
                SequenceError::Unavailable(format!("no answer within the {deadline} deadline"))
            }
        }
    }

    fn problem(operation: Operation, error: &SequenceError) -> SequenceResponse {
        let problem = problems::problem_for(error);
        // The request's one log line carries the reason and detail; conflicts are routine,
        // so their own lines are `debug`.
        mathapi_http::note_problem(&problem);
        let operation = operation.name();
        match error {
            SequenceError::AtEnd { index } => {
                tracing::debug!(operation, index, "sequence at its end")
            }
            SequenceError::AtStart => tracing::debug!(operation, "sequence at its start"),
            SequenceError::KeyReused { .. } => {
                tracing::debug!(operation, detail = %problem.detail, "idempotency key reused")
            }
            SequenceError::Unavailable(_)
            | SequenceError::OutcomeUnknown(_)
            | SequenceError::OutOfRange { .. }
            | SequenceError::StateLost => {
                tracing::warn!(operation, detail = %problem.detail, "sequence storage unavailable")
            }
            SequenceError::Io(_) => {
                tracing::error!(operation, detail = %problem.detail, "sequence storage failed")
            }
        }
        SequenceResponse::problem(problem)
    }
}

/// The answer of F(`index`) from the shared pair. A panic while the pair moved leaves it
/// unknown: it starts again from F(0).
fn position_at(pair: &Mutex<Pair>, index: u64) -> Position {
    let mut guard = pair.lock().unwrap_or_else(|poisoned| {
        pair.clear_poison();
        let mut guard = poisoned.into_inner();
        *guard = Pair::default();
        guard
    });
    guard.position_at(index)
}
