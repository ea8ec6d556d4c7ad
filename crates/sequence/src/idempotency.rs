//! `Idempotency-Key` records: which answer a key got, kept for a bounded time and count.
//!
//! The embedded backend keeps them in this in-process map (one process owns the state
//! file); the Redis backend keeps the same record in Redis, inside its script, so it holds
//! across replicas. Both bound it the same way: at most `capacity` keys, none older than
//! `window`; the oldest go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{Operation, SequenceError};

/// The longest idempotency key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// Whether `key` is acceptable: 1 to [`MAX_KEY_LEN`] visible ASCII characters (what
/// clients send: UUIDs, ULIDs, random tokens). Anything else is refused before it is stored.
pub fn valid_idempotency_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// How many idempotency records are kept, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdempotencyLimits {
    /// At most this many keys; the oldest is forgotten first.
    pub capacity: usize,
    /// A key is forgotten this long after its first use.
    pub window: Duration,
}

impl Default for IdempotencyLimits {
    /// 10 000 keys for 24 hours. The embedded record takes about 190 bytes plus the key's
    /// length per key, so at most about 450 bytes (measured by
    /// `scripts/attack-idempotency.sh`; docs/reliability.md).
    fn default() -> Self {
        Self {
            capacity: 10_000,
            window: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The answer recorded for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Moved(u64),
    AtEnd(u64),
    AtStart,
}

impl Outcome {
    pub(crate) fn of(result: &Result<u64, SequenceError>) -> Option<Self> {
        match result {
            Ok(index) => Some(Outcome::Moved(*index)),
            Err(SequenceError::AtEnd { index }) => Some(Outcome::AtEnd(*index)),
            Err(SequenceError::AtStart) => Some(Outcome::AtStart),
            Err(_) => None,
        }
    }

    pub(crate) fn answer(self) -> Result<u64, SequenceError> {
        match self {
            Outcome::Moved(index) => Ok(index),
            Outcome::AtEnd(index) => Err(SequenceError::AtEnd { index }),
            Outcome::AtStart => Err(SequenceError::AtStart),
        }
    }
}

struct Entry {
    operation: Operation,
    outcome: Outcome,
}

/// The embedded backend's record: a map plus the keys in insertion order. The two share each
/// key's one allocation (`Arc<str>`): a key is held once, however long.
pub(crate) struct Records {
    limits: IdempotencyLimits,
    entries: HashMap<Arc<str>, Entry>,
    order: VecDeque<(Instant, Arc<str>)>,
}

impl Records {
    pub(crate) fn new(limits: IdempotencyLimits) -> Self {
        Self {
            limits,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The recorded answer for `key`, if it is still kept; `KeyReused` if it was for
    /// another operation.
    pub(crate) fn replay(
        &mut self,
        key: &str,
        operation: Operation,
    ) -> Option<Result<u64, SequenceError>> {
        self.expire(Instant::now());
        let entry = self.entries.get(key)?;
        Some(match entry.operation == operation {
            true => entry.outcome.answer(),
            false => Err(SequenceError::KeyReused {
                original: entry.operation.name().to_owned(),
                requested: operation.name(),
            }),
        })
    }

    /// Records `outcome` for a new `key`, forgetting the oldest keys beyond the capacity.
    pub(crate) fn record(&mut self, key: &str, operation: Operation, outcome: Outcome) {
        if self.limits.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.limits.capacity {
            let Some((_, oldest)) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let key: Arc<str> = Arc::from(key);
        self.order.push_back((Instant::now(), Arc::clone(&key)));
        self.entries.insert(key, Entry { operation, outcome });
    }

    /// Forgets the keys older than the window.
    fn expire(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < self.limits.window {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.entries.remove(&key);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(capacity: usize, window: Duration) -> Records {
        Records::new(IdempotencyLimits { capacity, window })
    }

    #[test]
    fn a_recorded_key_replays_its_answer_and_refuses_another_step() {
        let mut records = records(10, Duration::from_secs(60));
        let next = Operation::Next;
        assert!(records.replay("k", next).is_none());
        records.record("k", next, Outcome::Moved(4));
        assert_eq!(records.replay("k", next).unwrap().unwrap(), 4);
        assert!(matches!(
            records.replay("k", Operation::Previous),
            Some(Err(SequenceError::KeyReused { .. }))
        ));
    }

    #[test]
    fn the_count_cap_holds_and_forgets_the_oldest_first() {
        let mut records = records(3, Duration::from_secs(60));
        for i in 0..1_000u64 {
            records.record(&format!("k{i}"), Operation::Reset, Outcome::Moved(0));
            assert!(records.len() <= 3);
        }
        assert!(records.replay("k996", Operation::Reset).is_none());
        assert!(records.replay("k999", Operation::Reset).is_some());
        assert!(records.replay("k997", Operation::Reset).is_some());
    }

    #[test]
    fn keys_are_forgotten_after_the_window() {
        let window = Duration::from_secs(60);
        let mut records = records(10, window);
        records.record("k", Operation::Reset, Outcome::Moved(0));
        assert!(records.replay("k", Operation::Reset).is_some());
        // The clock is given, not waited for: just inside the window, then at its end.
        let recorded = records.order.front().unwrap().0;
        records.expire(recorded + window - Duration::from_millis(1));
        assert_eq!(records.len(), 1, "forgotten inside the window");
        records.expire(recorded + window);
        assert_eq!(records.len(), 0, "kept past the window");
    }

    #[test]
    fn key_syntax() {
        assert!(valid_idempotency_key(
            "5f2b7c0e-1d2a-4c1e-9a8b-0a1b2c3d4e5f"
        ));
        assert!(!valid_idempotency_key(""));
        assert!(!valid_idempotency_key("has space"));
        assert!(!valid_idempotency_key("ünïcode"));
        assert!(valid_idempotency_key(&"x".repeat(MAX_KEY_LEN)));
        assert!(!valid_idempotency_key(&"x".repeat(MAX_KEY_LEN + 1)));
    }
}
