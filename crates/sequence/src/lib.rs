//! Durable, shared state for the Fibonacci sequence (its HTTP API is `mathapi-sequence-api`).
//!
//! The store holds only the current index `i` of the walk; callers compute `F(i)`. Every
//! operation is linearizable and returns only once its state change is durable.
//!
//! [`Operation`] (`current`, `next`, `previous`, `reset`) is the one name of what a caller
//! asks of the sequence: the store's [`SequenceStore::apply`], the HTTP API and the
//! `mathapi sequence` subcommand all take it (feature `clap` makes it a `clap::ValueEnum`).
//!
//! Two backends implement [`SequenceStore`]:
//! - [`EmbeddedStore`] (default): a small crash-safe file in a data directory, with group
//!   commit (one `fdatasync` per batch of concurrent steps);
//! - [`RedisStore`]: Lua scripts that check the bounds and move the index in one atomic step,
//!   for several replicas sharing one Redis.
//!
//! [`Store`] wraps either, chosen at startup from a [`StoreConfig`] and [`StoreOptions`].
//!
//! Layout: `lib.rs` holds the shared types (the trait, errors, options); `embedded.rs` and
//! `redis_store.rs` the backends (`redis.lua` is the Redis backend's one script);
//! `idempotency.rs` the bounded record of `Idempotency-Key`s that the embedded backend keeps
//! in memory (the Redis script keeps the same record in Redis); `testing.rs` a real
//! `redis-server` for tests (feature `test-util`).
//!
//! Every loaded index is checked against `0..=max_index` ([`StoreOptions::max_index`]): a
//! state file outside it is refused at open, and a Redis value outside it is refused by the
//! script on every call, so no caller is ever handed an index beyond its cap.

mod embedded;
mod idempotency;
mod redis_store;
#[cfg(feature = "test-util")]
pub mod testing;

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use embedded::{
    EmbeddedStore, LOCK_FILE_NAME, QUEUE_CAPACITY, Recovery, STATE_FILE_NAME, StateFile,
    decode_state_file,
};
pub use idempotency::{IdempotencyLimits, MAX_KEY_LEN, valid_idempotency_key};
pub use redis_store::{DEFAULT_REDIS_KEY, MAX_SCRIPT_INDEX, RedisConfig, RedisStore};

/// Called with the time a state change took to become durable: one call per `fdatasync`
/// (embedded; one commit may cover many steps) or per successful mutating Redis call.
/// It runs on the committing thread, so it must be quick (e.g. record a histogram sample).
pub type CommitHook = Arc<dyn Fn(Duration) + Send + Sync>;

/// Called by the embedded backend's writer thread just before each `fdatasync`. It exists so
/// that tests can stall the disk for real (block here as a frozen filesystem would block the
/// sync); production code leaves it unset.
pub type SyncHook = Arc<dyn Fn() + Send + Sync>;

/// Settings shared by both backends.
#[derive(Clone)]
pub struct StoreOptions {
    /// The largest index the stored state may hold: a loaded index outside `0..=max_index`
    /// is refused ([`OpenError::OutOfRange`] for the embedded file, [`SequenceError::OutOfRange`]
    /// from Redis). At most [`MAX_SCRIPT_INDEX`].
    pub max_index: u64,
    /// See [`CommitHook`].
    pub on_commit: Option<CommitHook>,
    /// How many `Idempotency-Key` answers are kept, and for how long.
    pub idempotency: IdempotencyLimits,
    /// See [`SyncHook`] (embedded only).
    pub before_sync: Option<SyncHook>,
}

impl Default for StoreOptions {
    /// No commit or sync hooks, default idempotency limits, and the largest index both
    /// backends hold exactly ([`MAX_SCRIPT_INDEX`]).
    fn default() -> Self {
        Self {
            max_index: MAX_SCRIPT_INDEX,
            on_commit: None,
            idempotency: IdempotencyLimits::default(),
            before_sync: None,
        }
    }
}

/// What a caller asks of the sequence: the store's operations, the HTTP routes
/// (`/fibonacci/current`, `next`, `previous`, `reset`) and the `mathapi sequence`
/// subcommand's argument are this one type. With the `clap` feature it is also a
/// [`clap::ValueEnum`], whose values are the [`Operation::name`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Operation {
    /// Show the current position.
    Current,
    /// Step forward.
    Next,
    /// Step back.
    Previous,
    /// Go back to index 0.
    Reset,
}

impl Operation {
    /// Its name: `current`, `next`, `previous` or `reset`. The route's last segment, the
    /// `operation` label of the metrics and log lines, and what an idempotency record holds.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Current => "current",
            Operation::Next => "next",
            Operation::Previous => "previous",
            Operation::Reset => "reset",
        }
    }

    /// Whether it changes the state: every operation but [`Operation::Current`].
    pub fn changes_state(self) -> bool {
        self != Operation::Current
    }
}

/// Why a sequence operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    /// `next` at (or beyond) the maximum index; the state is unchanged.
    #[error("the sequence is at index {index}, its maximum; there is no next step")]
    AtEnd {
        /// The current (unchanged) index.
        index: u64,
    },
    /// `previous` at index 0; the state is unchanged.
    #[error("the sequence is at index 0; there is no previous step")]
    AtStart,
    /// The backend cannot be reached (Redis down) or has stopped accepting changes. The
    /// change was NOT applied; the call may be retried later.
    #[error("sequence storage is unavailable: {0}")]
    Unavailable(String),
    /// The change was sent but its answer did not arrive in time (e.g. a Redis that stopped
    /// answering after the command was written). It may or may not have been applied:
    /// retry with the same `Idempotency-Key` to find out without stepping twice.
    #[error("the outcome is unknown: {0}")]
    OutcomeUnknown(String),
    /// The stored index is outside `0..=max`: the state is refused, not stepped. An
    /// explicit reset repairs it.
    #[error(
        "the stored sequence index {stored} is outside 0..={max}; it is refused, not used: an operator must reset the sequence (POST /fibonacci/reset)"
    )]
    OutOfRange {
        /// The stored value, as found.
        stored: String,
        /// The largest valid index.
        max: u64,
    },
    /// Redis lost the sequence (its initialisation marker is gone, e.g. a restart without
    /// persistence). Nothing is stepped until an operator resets explicitly.
    #[error(
        "the sequence state was lost by the storage (its initialisation marker is missing); refusing to restart silently from 0: an operator must reset the sequence (POST /fibonacci/reset)"
    )]
    StateLost,
    /// The idempotency key was used before for a different step.
    #[error("this Idempotency-Key was already used for `{original}`, not `{requested}`")]
    KeyReused {
        /// The step the key was first used for.
        original: String,
        /// The step asked for now.
        requested: &'static str,
    },
    /// The backend failed (I/O or fsync error, unexpected reply); the change was not
    /// acknowledged and may or may not have been applied.
    #[error("sequence storage failed: {0}")]
    Io(#[from] io::Error),
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (or another store in this process) holds the data directory.
    #[error(
        "sequence data directory {} is in use by another process{}; two processes must not share a data directory",
        dir.display(),
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// The pid recorded by the holder, if readable.
        holder: Option<u32>,
    },
    /// The state file exists but neither of its two records is valid. It is left untouched:
    /// restore it, or delete it to start again from index 0.
    #[error(
        "sequence state file {} is corrupt (no record passes its checksum); it was left untouched: restore it, or delete it to start from index 0",
        path.display()
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
    },
    /// Creating, locking or reading the data directory failed.
    #[error("cannot open sequence data directory {}: {source}", dir.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The state file holds an index outside `0..=max_index`. It is left untouched: restore
    /// it, raise the maximum, or delete it to start from index 0.
    #[error(
        "sequence state file {} holds index {index}, outside 0..={max}; refusing to start: restore the file, raise the maximum, or delete the file to start from index 0",
        path.display()
    )]
    OutOfRange {
        /// The state file.
        path: PathBuf,
        /// The index it holds.
        index: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The Redis URL or connection settings are invalid.
    #[error("invalid Redis configuration: {0}")]
    Redis(#[source] redis::RedisError),
}

/// The sequence's shared state: an index in `0..=max_index`.
///
/// All methods are linearizable and return only after their effect is durable. Mutating
/// calls return the new index; `AtEnd`/`AtStart` leave the state unchanged.
///
/// The trait uses return-position `impl Future + Send` (no boxing, no `async-trait`), so it
/// is not object-safe; the backends are a closed set, dispatched by the [`Store`] enum.
pub trait SequenceStore: Send + Sync {
    /// The backend's label for metrics: `embedded` or `redis`.
    fn backend_name(&self) -> &'static str;

    /// The current index.
    fn current(&self) -> impl Future<Output = Result<u64, SequenceError>> + Send;

    /// Performs `operation` and answers the index it leaves. [`Operation::Next`] advances
    /// one step unless the current index is `>= max_index` (then `AtEnd`); the other
    /// operations ignore `max_index`. [`Operation::Current`] only reads: it is
    /// [`SequenceStore::current`], and a `key` means nothing to it.
    ///
    /// With an idempotency `key`, a key seen within the retention window answers what its
    /// first call answered (success or conflict) without stepping again; the record is
    /// made atomically with the step.
    fn apply(
        &self,
        operation: Operation,
        max_index: u64,
        key: Option<&str>,
    ) -> impl Future<Output = Result<u64, SequenceError>> + Send;

    /// Advances one step unless the current index is `>= max_index` (then `AtEnd`).
    fn next(&self, max_index: u64) -> impl Future<Output = Result<u64, SequenceError>> + Send {
        self.apply(Operation::Next, max_index, None)
    }

    /// Steps back one unless the current index is 0 (then `AtStart`).
    fn previous(&self) -> impl Future<Output = Result<u64, SequenceError>> + Send {
        self.apply(Operation::Previous, 0, None)
    }

    /// Returns to index 0.
    fn reset(&self) -> impl Future<Output = Result<u64, SequenceError>> + Send {
        self.apply(Operation::Reset, 0, None)
    }

    /// `Ok` when the backend can serve operations now (for `/ready`), else why not. It may
    /// wait for the backend (a stalled disk or Redis): callers bound it with a timeout.
    fn ready(&self) -> impl Future<Output = Result<(), SequenceError>> + Send;
}

/// Which backend to use, and where its state lives.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// A state file in this data directory (created if missing).
    Embedded {
        /// The data directory.
        dir: PathBuf,
    },
    /// A Redis server.
    Redis(RedisConfig),
}

/// A store of either backend; cheap to clone (clones share the same state).
#[derive(Clone)]
pub enum Store {
    /// See [`EmbeddedStore`].
    Embedded(EmbeddedStore),
    /// See [`RedisStore`].
    Redis(RedisStore),
}

impl Store {
    /// Opens the configured backend. The embedded store fails fast (lock held, corrupt
    /// file, I/O); the Redis store connects lazily, so an unreachable Redis is not an error
    /// here. Must be called within a Tokio runtime.
    pub fn open(config: &StoreConfig, on_commit: Option<CommitHook>) -> Result<Self, OpenError> {
        let options = StoreOptions {
            on_commit,
            ..StoreOptions::default()
        };
        Self::open_with(config, &options)
    }

    /// [`Store::open`] with every option.
    pub fn open_with(config: &StoreConfig, options: &StoreOptions) -> Result<Self, OpenError> {
        Ok(match config {
            StoreConfig::Embedded { dir } => {
                Self::Embedded(EmbeddedStore::open_with(dir, options.clone())?)
            }
            StoreConfig::Redis(redis) => Self::Redis(RedisStore::open_with(redis, options)?),
        })
    }

    /// What opening the embedded state file recovered from a damaged slot, if anything.
    pub fn recovery(&self) -> Option<Recovery> {
        match self {
            Self::Embedded(store) => store.recovery(),
            Self::Redis(_) => None,
        }
    }
}

impl SequenceStore for Store {
    fn backend_name(&self) -> &'static str {
        match self {
            Self::Embedded(store) => store.backend_name(),
            Self::Redis(store) => store.backend_name(),
        }
    }

    async fn current(&self) -> Result<u64, SequenceError> {
        match self {
            Self::Embedded(store) => store.current().await,
            Self::Redis(store) => store.current().await,
        }
    }

    async fn apply(
        &self,
        operation: Operation,
        max_index: u64,
        key: Option<&str>,
    ) -> Result<u64, SequenceError> {
        match self {
            Self::Embedded(store) => store.apply(operation, max_index, key).await,
            Self::Redis(store) => store.apply(operation, max_index, key).await,
        }
    }

    async fn ready(&self) -> Result<(), SequenceError> {
        match self {
            Self::Embedded(store) => store.ready().await,
            Self::Redis(store) => store.ready().await,
        }
    }
}
