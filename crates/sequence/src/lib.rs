//! Durable, shared state for the Fibonacci sequence stepper.
//!
//! The store holds only the current index `i` of the walk; callers compute `F(i)`. Every
//! operation is linearizable and returns only once its state change is durable.
//!
//! Two backends implement [`SequenceStore`]:
//! - [`EmbeddedStore`] (default): a small crash-safe file in a data directory, with group
//!   commit (one `fdatasync` per batch of concurrent steps);
//! - [`RedisStore`]: Lua scripts that check the bounds and move the index in one atomic step,
//!   for several replicas sharing one Redis.
//!
//! [`Store`] wraps either, chosen at startup from a [`StoreConfig`].

mod embedded;
mod redis_store;
#[cfg(feature = "test-util")]
pub mod testing;

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use embedded::{EmbeddedStore, LOCK_FILE_NAME, STATE_FILE_NAME};
pub use redis_store::{DEFAULT_REDIS_KEY, RedisConfig, RedisStore};

/// Called with the time a state change took to become durable: one call per `fdatasync`
/// (embedded; one commit may cover many steps) or per successful mutating Redis call.
/// It runs on the committing thread, so it must be quick (e.g. record a histogram sample).
pub type CommitHook = Arc<dyn Fn(Duration) + Send + Sync>;

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
    /// The backend cannot be reached (Redis down) or has stopped accepting changes; the
    /// operation may be retried later. For a mutating call the change may or may not have
    /// been applied.
    #[error("sequence storage is unavailable: {0}")]
    Unavailable(String),
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
    /// The Redis URL or connection settings are invalid.
    #[error("invalid Redis configuration: {0}")]
    Redis(#[source] redis::RedisError),
}

/// The stepper's shared state: an index in `0..=max_index`.
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

    /// Advances one step unless the current index is `>= max_index` (then `AtEnd`).
    fn next(&self, max_index: u64) -> impl Future<Output = Result<u64, SequenceError>> + Send;

    /// Steps back one unless the current index is 0 (then `AtStart`).
    fn previous(&self) -> impl Future<Output = Result<u64, SequenceError>> + Send;

    /// Returns to index 0.
    fn reset(&self) -> impl Future<Output = Result<u64, SequenceError>> + Send;

    /// Whether the backend can serve operations now (for `/ready`).
    fn ready(&self) -> impl Future<Output = bool> + Send;
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
        Ok(match config {
            StoreConfig::Embedded { dir } => Self::Embedded(EmbeddedStore::open(dir, on_commit)?),
            StoreConfig::Redis(redis) => Self::Redis(RedisStore::open(redis, on_commit)?),
        })
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

    async fn next(&self, max_index: u64) -> Result<u64, SequenceError> {
        match self {
            Self::Embedded(store) => store.next(max_index).await,
            Self::Redis(store) => store.next(max_index).await,
        }
    }

    async fn previous(&self) -> Result<u64, SequenceError> {
        match self {
            Self::Embedded(store) => store.previous().await,
            Self::Redis(store) => store.previous().await,
        }
    }

    async fn reset(&self) -> Result<u64, SequenceError> {
        match self {
            Self::Embedded(store) => store.reset().await,
            Self::Redis(store) => store.reset().await,
        }
    }

    async fn ready(&self) -> bool {
        match self {
            Self::Embedded(store) => store.ready().await,
            Self::Redis(store) => store.ready().await,
        }
    }
}
