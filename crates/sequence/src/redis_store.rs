//! The Redis backend: the index is one integer key, moved by Lua scripts that check the
//! bound and `INCR`/`DECR` in a single atomic step (Redis runs a script without
//! interleaving other commands), so replicas sharing the key never race.
//!
//! Durability is Redis's: a reply means Redis applied the change, and it is on disk only as
//! far as Redis persistence promises. For the "durable before acknowledged" guarantee run
//! Redis with `appendonly yes` and `appendfsync always` (Redis then fsyncs the AOF before it
//! replies); with `appendfsync everysec` up to about one second of acknowledged steps can be
//! lost on a Redis crash.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};

use crate::{
    CommitHook, IdempotencyLimits, OpenError, Operation, SequenceError, SequenceStore, StoreOptions,
};

/// The key holding the index unless configured otherwise.
pub const DEFAULT_REDIS_KEY: &str = "mathapi:fibonacci:sequence:index";

/// Lua compares numbers as doubles; indices are exact up to 2^53, the largest maximum the
/// stores accept.
pub const MAX_SCRIPT_INDEX: u64 = 1 << 53;

/// Every operation, in one script (see the file for its keys, arguments and answers).
const SCRIPT: &str = include_str!("redis.lua");

/// Where the Redis backend keeps the index, and how long it waits for Redis.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// e.g. `redis://127.0.0.1:6379/0`.
    pub url: String,
    /// The key holding the index (default [`DEFAULT_REDIS_KEY`]).
    pub key: String,
    /// Limit for one connection attempt.
    pub connect_timeout: Duration,
    /// Limit for one command's reply (includes Redis's fsync with `appendfsync always`).
    /// A step whose reply does not come in time is [`SequenceError::OutcomeUnknown`].
    pub response_timeout: Duration,
}

impl RedisConfig {
    /// The default key and timeouts (1 s to connect, 2 s per reply) for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key: DEFAULT_REDIS_KEY.to_owned(),
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
        }
    }
}

/// The Redis backend. Clones share one multiplexed connection.
///
/// The connection is made lazily and remade after a failure, so a Redis that is down at
/// startup or restarts later only makes calls fail with `Unavailable` (and `ready` false)
/// until it is back; no restart is needed.
///
/// # Data loss
///
/// The first successful call of a process initialises the store: it writes a marker key
/// (`<key>:initialised`) unless one exists. Every later call checks the marker inside the
/// script; a Redis that lost its data (restarted without persistence, flushed) has no
/// marker, and every call then fails with [`SequenceError::StateLost`] until an explicit
/// reset writes a new one. A Redis that loses its data while no process is running looks
/// new to the first process that starts, which initialises it at index 0: that case is
/// logged (`initialised a new sequence in Redis`) but cannot be told from a first start.
///
/// # Idempotency
///
/// Steps with an idempotency key record their answer in `<key>:idempotency` (a hash) and
/// `<key>:idempotency:order` (first use, for the retention window and count cap), in the
/// same script run as the step, so a retry answered by another replica replays it too.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    inner: Arc<Inner>,
}

struct Inner {
    /// KEYS of the script: index, marker, idempotency records, idempotency order.
    keys: [String; 4],
    script: Script,
    max_index: u64,
    idempotency: IdempotencyLimits,
    on_commit: Option<CommitHook>,
    /// Set once this process has found (or written) the marker.
    initialised: AtomicBool,
}

impl RedisStore {
    /// Prepares the store without connecting (so an unreachable Redis is not an error).
    /// Fails only if the URL or configuration is invalid. Must be called within a Tokio
    /// runtime.
    pub fn open(config: &RedisConfig, on_commit: Option<CommitHook>) -> Result<Self, OpenError> {
        let options = StoreOptions {
            on_commit,
            ..StoreOptions::default()
        };
        Self::open_with(config, &options)
    }

    /// [`RedisStore::open`] with every option. A password in the URL
    /// (`redis://:secret@host:6379`) authenticates every connection.
    pub fn open_with(config: &RedisConfig, options: &StoreOptions) -> Result<Self, OpenError> {
        let client = redis::Client::open(config.url.as_str()).map_err(OpenError::Redis)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            // Fail the call at once while Redis is down; the next call tries again.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(OpenError::Redis)?;
        let key = &config.key;
        Ok(Self {
            connection,
            inner: Arc::new(Inner {
                keys: [
                    key.clone(),
                    format!("{key}:initialised"),
                    format!("{key}:idempotency"),
                    format!("{key}:idempotency:order"),
                ],
                script: Script::new(SCRIPT),
                max_index: options.max_index.min(MAX_SCRIPT_INDEX),
                idempotency: options.idempotency,
                on_commit: options.on_commit.clone(),
                initialised: AtomicBool::new(false),
            }),
        })
    }

    /// Runs the script for `op`, initialising the store first if this process has not yet.
    async fn run(
        &self,
        op: &str,
        step_max: u64,
        key: Option<&str>,
    ) -> Result<(String, String), SequenceError> {
        if !self.inner.initialised.load(Ordering::Acquire) {
            self.initialise().await?;
        }
        self.invoke(op, step_max, key).await
    }

    /// Runs the script once; a reset whose connection had dropped (Redis restarted) runs
    /// once more on the new connection. A reset is safe to repeat (it writes the same
    /// state, and its idempotency record replays), and it is the operator's way out after
    /// Redis lost its data: it must not fail on the connection that the loss broke.
    async fn invoke(
        &self,
        op: &str,
        step_max: u64,
        key: Option<&str>,
    ) -> Result<(String, String), SequenceError> {
        let mutating = op != "current" && op != "init";
        let mut result = self.invoke_once(op, step_max, key).await;
        if op == "reset"
            && let Err(error) = &result
            && error.is_connection_dropped()
            && !error.is_timeout()
        {
            result = self.invoke_once(op, step_max, key).await;
        }
        result.map_err(|error| classify(error, mutating))
    }

    async fn invoke_once(
        &self,
        op: &str,
        step_max: u64,
        key: Option<&str>,
    ) -> Result<(String, String), RedisError> {
        let mut invocation = self.inner.script.prepare_invoke();
        for key in &self.inner.keys {
            invocation.key(key);
        }
        invocation
            .arg(op)
            .arg(step_max.min(MAX_SCRIPT_INDEX))
            .arg(self.inner.max_index)
            .arg(key.unwrap_or(""))
            .arg(u64::try_from(self.inner.idempotency.window.as_millis()).unwrap_or(u64::MAX))
            .arg(self.inner.idempotency.capacity)
            .arg(marker_value());
        let mut connection = self.connection.clone();
        invocation.invoke_async(&mut connection).await
    }

    async fn initialise(&self) -> Result<(), SequenceError> {
        // A small command first: an unauthenticated connection gets a clear NOAUTH here
        // (Redis answers a large unauthenticated request with a bare protocol error).
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(|error| classify(error, false))?;
        let (status, found) = self.invoke("init", 0, None).await?;
        if status == "initialised" {
            match found.parse::<u64>() {
                Err(_) if found.is_empty() => tracing::info!("initialised a new sequence in Redis"),
                Ok(index) => tracing::warn!(
                    index,
                    "adopted an index found in Redis without an initialisation marker (written by an older version)"
                ),
                Err(_) => tracing::warn!(
                    detail = %found.chars().take(64).collect::<String>(),
                    "adopted a value found in Redis without an initialisation marker; it is refused until reset"
                ),
            }
        }
        self.inner.initialised.store(true, Ordering::Release);
        Ok(())
    }

    fn committed(&self, started: Instant) {
        if let Some(on_commit) = &self.inner.on_commit {
            on_commit(started.elapsed());
        }
    }
}

/// What the init and reset calls write to the marker: when, for an operator reading it.
fn marker_value() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    format!("initialised at unix time {seconds}")
}

/// Turns the script's `{status, value}` answer into the store's result.
fn answer(status: &str, value: &str, operation: Operation, max: u64) -> Result<u64, SequenceError> {
    let index = |value: &str| {
        value.parse::<u64>().map_err(|_| {
            SequenceError::Io(std::io::Error::other(format!(
                "unexpected index {value:?} from the Redis script"
            )))
        })
    };
    match status {
        "ok" => index(value),
        "end" => Err(SequenceError::AtEnd {
            index: index(value)?,
        }),
        "start" => Err(SequenceError::AtStart),
        "invalid" => Err(SequenceError::OutOfRange {
            stored: value.chars().take(64).collect(),
            max,
        }),
        "lost" => Err(SequenceError::StateLost),
        "replay" => replay(value, operation),
        other => Err(SequenceError::Io(std::io::Error::other(format!(
            "unexpected answer {other:?} from the Redis script"
        )))),
    }
}

/// The answer recorded for an idempotency key: `operation:status:index`.
fn replay(record: &str, operation: Operation) -> Result<u64, SequenceError> {
    let mut parts = record.splitn(3, ':');
    let (original, status, value) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let requested = operation.name();
    if original != requested {
        return Err(SequenceError::KeyReused {
            original: original.to_owned(),
            requested,
        });
    }
    match status {
        "ok" | "end" | "start" => answer(status, value, Operation::Current, 0),
        _ => Err(SequenceError::Io(std::io::Error::other(format!(
            "unexpected idempotency record {record:?} in Redis"
        )))),
    }
}

impl SequenceStore for RedisStore {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    async fn current(&self) -> Result<u64, SequenceError> {
        let (status, value) = self.run("current", 0, None).await?;
        answer(&status, &value, Operation::Current, self.inner.max_index)
    }

    async fn apply(
        &self,
        operation: Operation,
        max_index: u64,
        key: Option<&str>,
    ) -> Result<u64, SequenceError> {
        if !operation.changes_state() {
            return self.current().await;
        }
        let started = Instant::now();
        let step_max = match operation {
            Operation::Next => max_index,
            Operation::Current | Operation::Previous | Operation::Reset => 0,
        };
        let (status, value) = self.run(operation.name(), step_max, key).await?;
        if status == "ok" {
            self.committed(started);
        }
        answer(&status, &value, operation, self.inner.max_index)
    }

    async fn ready(&self) -> Result<(), SequenceError> {
        // The same checks as every call: reachable, initialised, marker present, in range.
        self.current().await.map(|_| ())
    }
}

/// Connection trouble, failed authentication and transient server states are
/// `Unavailable` (retry later);
/// anything else (e.g. a non-integer value under the key) is a storage failure.
///
/// A mutating call whose command may have reached Redis (a reply timeout, a connection
/// that broke after sending) has an unknown outcome; one refused before sending was not
/// applied.
fn classify(error: RedisError, mutating: bool) -> SequenceError {
    // (Conversion failures count as `Parse` errors, so only I/O is matched, not every kind
    // the client would reconnect for.)
    let transient = error.is_io_error()
        || error.is_timeout()
        || matches!(
            error.kind(),
            ErrorKind::AuthenticationFailed
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                        | ServerErrorKind::NoPerm
                )
        )
        // Refused for want of (the right) credentials: nothing ran.
        || matches!(error.code(), Some("NOAUTH" | "WRONGPASS"));
    let maybe_sent = error.is_timeout() || (error.is_io_error() && !error.is_connection_refusal());
    if mutating && maybe_sent {
        SequenceError::OutcomeUnknown(format!("Redis: {error}"))
    } else if transient {
        SequenceError::Unavailable(format!("Redis: {error}"))
    } else {
        SequenceError::Io(std::io::Error::other(error))
    }
}
