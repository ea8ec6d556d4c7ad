//! `mathapi.render_cache.events`: the render cache's hits, misses and evictions per function,
//! counted with one atomic add each and read when `/metrics` is scraped.
//!
//! A synchronous OpenTelemetry counter would hash the `(function, event)` attribute set and
//! look its series up on every lookup (about 1,000 instructions, on every cache hit). The
//! functions are the served ones, a closed set of `&'static str` names from the code, so each
//! gets a slot of three counters the first time it is counted; a lookup finds its slot under a
//! shared lock. An event's series appears once it has been counted, as the synchronous
//! counter's did.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use opentelemetry::metrics::AsyncInstrument;
use opentelemetry::{Key, KeyValue};

const FUNCTION: Key = Key::from_static_str("function");
const EVENT: Key = Key::from_static_str("event");

/// What happened to a lookup or an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CacheEvent {
    /// A lookup found an answer.
    Hit = 0,
    /// A lookup found none: the answer is computed.
    Miss = 1,
    /// An entry left the cache (evicted, or too heavy to be admitted).
    Evicted = 2,
}

/// The `event` label of each [`CacheEvent`], in its order.
const EVENT_NAMES: [&str; 3] = ["hit", "miss", "evicted"];

struct Slot {
    function: &'static str,
    counts: [AtomicU64; 3],
}

/// The counts of every function's events.
#[derive(Default)]
pub(crate) struct CacheEvents {
    slots: RwLock<Vec<Slot>>,
}

impl CacheEvents {
    /// Counts one `event` of `function`.
    pub(crate) fn count(&self, function: &'static str, event: CacheEvent) {
        if self.add_to_existing(function, event) {
            return;
        }
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have added the slot between the two locks.
        let slot = match slots.iter().position(|slot| slot.function == function) {
            Some(index) => &slots[index],
            None => {
                slots.push(Slot {
                    function,
                    counts: Default::default(),
                });
                &slots[slots.len() - 1]
            }
        };
        slot.counts[event as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `event` in `function`'s slot, if it has one.
    fn add_to_existing(&self, function: &'static str, event: CacheEvent) -> bool {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        match slots.iter().find(|slot| slot.function == function) {
            Some(slot) => {
                slot.counts[event as usize].fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Reports every count above zero, labelled `function` and `event`.
    pub(crate) fn observe(&self, observer: &dyn AsyncInstrument<u64>) {
        for (function, event, count) in self.counts() {
            observer.observe(
                count,
                &[
                    KeyValue::new(FUNCTION, function),
                    KeyValue::new(EVENT, event),
                ],
            );
        }
    }

    /// Every `(function, event, count)` with a count above zero.
    fn counts(&self) -> Vec<(&'static str, &'static str, u64)> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        slots
            .iter()
            .flat_map(|slot| {
                EVENT_NAMES
                    .iter()
                    .zip(&slot.counts)
                    .map(|(event, count)| (slot.function, *event, count.load(Ordering::Relaxed)))
            })
            .filter(|(_, _, count)| *count > 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_counts_its_own_events_and_only_those_counted_are_reported() {
        let events = CacheEvents::default();
        assert!(events.counts().is_empty());
        events.count("fibonacci", CacheEvent::Miss);
        events.count("fibonacci", CacheEvent::Hit);
        events.count("fibonacci", CacheEvent::Hit);
        events.count("factorial", CacheEvent::Evicted);
        assert_eq!(
            events.counts(),
            [
                ("fibonacci", "hit", 2),
                ("fibonacci", "miss", 1),
                ("factorial", "evicted", 1),
            ]
        );
    }

    #[test]
    fn threads_counting_at_once_lose_no_event() {
        let events = CacheEvents::default();
        std::thread::scope(|scope| {
            for function in ["fibonacci", "factorial", "ackermann", "fibonacci"] {
                let events = &events;
                scope.spawn(move || {
                    for _ in 0..1000 {
                        events.count(function, CacheEvent::Hit);
                    }
                });
            }
        });
        let mut counts = events.counts();
        counts.sort();
        assert_eq!(
            counts,
            [
                ("ackermann", "hit", 1000),
                ("factorial", "hit", 1000),
                ("fibonacci", "hit", 2000),
            ]
        );
    }
}
