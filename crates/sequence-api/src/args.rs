//! [`SequenceArgs`]: the sequence's command-line flags (each with an environment-variable
//! fallback) and the store configuration they make.

use std::path::PathBuf;
use std::time::Duration;

use mathapi_sequence::{IdempotencyLimits, RedisConfig, StoreConfig, StoreOptions};

/// The largest index any configuration may allow. The sequence's own cap, independent of
/// `/fibonacci/{n}/`'s: F(100 000) has 20 899 digits and is computed in about a millisecond,
/// so no stored index can make an answer expensive.
pub const HARD_MAX_INDEX: u64 = 100_000;

/// The longest commit deadline accepted: beyond a minute a client has long given up.
const MAX_COMMIT_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest idempotency retention accepted (a week).
const MAX_IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// The most idempotency keys that may be kept (measured: about 190 bytes plus the key each
/// in the embedded store, 470 plus the key in Redis; at most about 450 MB and 730 MB).
const MAX_IDEMPOTENCY_KEYS: u64 = 1_000_000;

/// Where the sequence keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// A crash-safe file in `--sequence-data-dir` (one instance).
    Embedded,
    /// A Redis server at `--redis-url` (several replicas share it).
    Redis,
}

/// The sequence's settings.
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

    /// Redis server of the redis backend; a password goes in the URL
    /// (redis://:PASSWORD@host:6379).
    #[arg(
        long = "redis-url",
        env = "MATHAPI_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// Largest index `next` may reach (at most 100000); a stored index above it is refused.
    #[arg(
        long = "sequence-max-index",
        env = "MATHAPI_SEQUENCE_MAX_INDEX",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(0..=HARD_MAX_INDEX)
    )]
    pub max_index: u64,

    /// Deadline of one state change (e.g. 2s, 500ms; at most 60s): a slower commit answers
    /// 504 (outcome unknown), and the stepper answers 503 and is not ready until the
    /// storage is healthy again.
    #[arg(
        long = "sequence-commit-timeout",
        env = "MATHAPI_SEQUENCE_COMMIT_TIMEOUT",
        default_value = "2s",
        value_parser = parse_commit_timeout
    )]
    pub commit_timeout: Duration,

    /// How many Idempotency-Key answers are kept (at most 1000000; 0 keeps none).
    #[arg(
        long = "sequence-idempotency-keys",
        env = "MATHAPI_SEQUENCE_IDEMPOTENCY_KEYS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(0..=MAX_IDEMPOTENCY_KEYS)
    )]
    pub idempotency_keys: u64,

    /// How long an Idempotency-Key answer is kept (e.g. 24h, 10m; at most 7 days).
    #[arg(
        long = "sequence-idempotency-window",
        env = "MATHAPI_SEQUENCE_IDEMPOTENCY_WINDOW",
        default_value = "24h",
        value_parser = parse_idempotency_window
    )]
    pub idempotency_window: Duration,

    /// UNSAFE: let `GET /fibonacci/next`, `previous` and `reset` step the shared sequence, as
    /// the first published API did, for old clients. Any web page can then make its
    /// visitors' browsers step it (`<img src=".../fibonacci/next">` sends no preflight and
    /// often no `Origin`). Off (the default): those GETs answer 405 and are not in the
    /// documents.
    #[arg(
        long = "sequence-unsafe-get-steps",
        env = "MATHAPI_SEQUENCE_UNSAFE_GET_STEPS"
    )]
    pub unsafe_get_steps: bool,
}

impl SequenceArgs {
    /// Embedded storage in `data_dir`, default limits: for tests and examples.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        SequenceArgs {
            backend: Backend::Embedded,
            data_dir: data_dir.into(),
            redis_url: "redis://127.0.0.1:6379".into(),
            max_index: 10_000,
            commit_timeout: Duration::from_secs(2),
            idempotency_keys: 10_000,
            idempotency_window: Duration::from_secs(24 * 60 * 60),
            unsafe_get_steps: false,
        }
    }

    /// The backend's label for metrics.
    pub(crate) fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Embedded => "embedded",
            Backend::Redis => "redis",
        }
    }

    pub(crate) fn store_config(&self) -> StoreConfig {
        match self.backend {
            Backend::Embedded => StoreConfig::Embedded {
                dir: self.data_dir.clone(),
            },
            Backend::Redis => StoreConfig::Redis(RedisConfig {
                // A reply later than the commit deadline is an unknown outcome either way.
                response_timeout: self.commit_timeout,
                ..RedisConfig::new(self.redis_url.clone())
            }),
        }
    }

    pub(crate) fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_index: self.max_index,
            idempotency: IdempotencyLimits {
                capacity: usize::try_from(self.idempotency_keys).unwrap_or(usize::MAX),
                window: self.idempotency_window,
            },
            ..StoreOptions::default()
        }
    }
}

fn parse_commit_timeout(text: &str) -> Result<Duration, String> {
    parse_bounded(text, Duration::from_millis(1), MAX_COMMIT_TIMEOUT)
}

fn parse_idempotency_window(text: &str) -> Result<Duration, String> {
    parse_bounded(text, Duration::from_secs(1), MAX_IDEMPOTENCY_WINDOW)
}

/// A duration like `2s` or `500ms` within `min..=max`.
fn parse_bounded(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if (min..=max).contains(&duration) {
        Ok(duration)
    } else {
        Err(format!(
            "must be from {} to {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_commit_timeout("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(
            parse_commit_timeout("250ms"),
            Ok(Duration::from_millis(250))
        );
        assert!(parse_commit_timeout("0s").is_err());
        assert!(parse_commit_timeout("61s").is_err());
        assert!(parse_commit_timeout("soon").is_err());
        assert_eq!(
            parse_idempotency_window("24h"),
            Ok(Duration::from_secs(86_400))
        );
        assert!(parse_idempotency_window("8days").is_err());
    }
}
