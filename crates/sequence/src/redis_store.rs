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
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};

use crate::{CommitHook, OpenError, SequenceError, SequenceStore};

/// The key holding the index unless configured otherwise.
pub const DEFAULT_REDIS_KEY: &str = "mathapi:fibonacci:sequence:index";

/// Lua compares numbers as doubles; indices are exact up to 2^53.
const MAX_SCRIPT_INDEX: u64 = 1 << 53;

// Both return {applied (1 or 0), index}. A missing key is index 0.
const NEXT_SCRIPT: &str = r"
local index = tonumber(redis.call('GET', KEYS[1]) or '0')
if index >= tonumber(ARGV[1]) then
  return {0, index}
end
return {1, redis.call('INCR', KEYS[1])}
";

const PREVIOUS_SCRIPT: &str = r"
local index = tonumber(redis.call('GET', KEYS[1]) or '0')
if index <= 0 then
  return {0, index}
end
return {1, redis.call('DECR', KEYS[1])}
";

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
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    inner: Arc<Inner>,
}

struct Inner {
    key: String,
    next: Script,
    previous: Script,
    on_commit: Option<CommitHook>,
}

impl RedisStore {
    /// Prepares the store without connecting (so an unreachable Redis is not an error).
    /// Fails only if the URL or configuration is invalid. Must be called within a Tokio
    /// runtime.
    pub fn open(config: &RedisConfig, on_commit: Option<CommitHook>) -> Result<Self, OpenError> {
        let client = redis::Client::open(config.url.as_str()).map_err(OpenError::Redis)?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            // Fail the call at once while Redis is down; the next call tries again.
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(OpenError::Redis)?;
        Ok(Self {
            connection,
            inner: Arc::new(Inner {
                key: config.key.clone(),
                next: Script::new(NEXT_SCRIPT),
                previous: Script::new(PREVIOUS_SCRIPT),
                on_commit,
            }),
        })
    }

    /// Runs a bound-checking script (`arg` is its ARGV[1], if any).
    async fn step(&self, script: &Script, arg: Option<u64>) -> Result<StepOutcome, SequenceError> {
        let started = Instant::now();
        let mut invocation = script.key(&self.inner.key);
        if let Some(arg) = arg {
            invocation.arg(arg);
        }
        let mut connection = self.connection.clone();
        let (applied, index): (u8, u64) = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(classify)?;
        if applied == 1 {
            self.committed(started);
            Ok(StepOutcome::Moved(index))
        } else {
            Ok(StepOutcome::Blocked(index))
        }
    }

    fn committed(&self, started: Instant) {
        if let Some(on_commit) = &self.inner.on_commit {
            on_commit(started.elapsed());
        }
    }
}

enum StepOutcome {
    Moved(u64),
    Blocked(u64),
}

impl SequenceStore for RedisStore {
    fn backend_name(&self) -> &'static str {
        "redis"
    }

    async fn current(&self) -> Result<u64, SequenceError> {
        let mut connection = self.connection.clone();
        let index: Option<u64> = redis::cmd("GET")
            .arg(&self.inner.key)
            .query_async(&mut connection)
            .await
            .map_err(classify)?;
        Ok(index.unwrap_or(0))
    }

    async fn next(&self, max_index: u64) -> Result<u64, SequenceError> {
        match self
            .step(&self.inner.next, Some(max_index.min(MAX_SCRIPT_INDEX)))
            .await?
        {
            StepOutcome::Moved(index) => Ok(index),
            StepOutcome::Blocked(index) => Err(SequenceError::AtEnd { index }),
        }
    }

    async fn previous(&self) -> Result<u64, SequenceError> {
        match self.step(&self.inner.previous, None).await? {
            StepOutcome::Moved(index) => Ok(index),
            StepOutcome::Blocked(_) => Err(SequenceError::AtStart),
        }
    }

    async fn reset(&self) -> Result<u64, SequenceError> {
        let started = Instant::now();
        let mut connection = self.connection.clone();
        let () = redis::cmd("SET")
            .arg(&self.inner.key)
            .arg(0)
            .query_async(&mut connection)
            .await
            .map_err(classify)?;
        self.committed(started);
        Ok(0)
    }

    async fn ready(&self) -> bool {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .is_ok_and(|reply| reply == "PONG")
    }
}

/// Connection trouble, failed authentication and transient server states are
/// `Unavailable` (retry later);
/// anything else (e.g. a non-integer value under the key) is a storage failure.
fn classify(error: RedisError) -> SequenceError {
    // (Conversion failures count as `Parse` errors, so only I/O is matched, not every kind
    // the client would reconnect for.)
    let transient = error.is_io_error()
        || matches!(
            error.kind(),
            ErrorKind::AuthenticationFailed
                | ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::ReadOnly
                )
        );
    if transient {
        SequenceError::Unavailable(format!("Redis: {error}"))
    } else {
        SequenceError::Io(std::io::Error::other(error))
    }
}
