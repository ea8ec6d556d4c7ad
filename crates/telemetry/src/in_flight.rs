//! `http.server.active_requests`: requests in flight per method, counted with one atomic add
//! when a request starts and one when it ends, and read when `/metrics` is scraped.
//!
//! A synchronous OpenTelemetry up-down counter would hash the method's attribute set and look
//! its series up on every add (about 700 instructions each, two per request); the methods are a
//! closed set ([`method_label`](crate::method_label)), so each has its own slot here instead.
//! A method's series appears once a request with it has started and stays (at 0 when idle),
//! as the synchronous counter's did.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use poem::http::Method;

use crate::metrics::{OTHER_METHOD, STANDARD_METHODS};

/// One slot per standard method, then one for every other method.
const SLOTS: usize = STANDARD_METHODS.len() + 1;

/// Requests in flight, one counter per method.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    counts: [AtomicI64; SLOTS],
    seen: [AtomicBool; SLOTS],
}

impl InFlight {
    /// A request with `method` (a [`method_label`](crate::method_label)) has started.
    pub(crate) fn start(&self, method: &str) {
        let slot = slot(method);
        self.seen[slot].store(true, Ordering::Relaxed);
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// A request with `method` has been answered.
    pub(crate) fn finish(&self, method: &str) {
        self.counts[slot(method)].fetch_sub(1, Ordering::Relaxed);
    }

    /// Each method a request has started with, and how many of those are in flight now.
    pub(crate) fn counts(&self) -> impl Iterator<Item = (&'static str, i64)> + '_ {
        (0..SLOTS)
            .filter(|&slot| self.seen[slot].load(Ordering::Relaxed))
            .map(|slot| (label(slot), self.counts[slot].load(Ordering::Relaxed)))
    }
}

/// The slot of the label `method`; anything else counts as the other methods'.
fn slot(method: &str) -> usize {
    STANDARD_METHODS
        .iter()
        .position(|standard| standard.as_str() == method)
        .unwrap_or(SLOTS - 1)
}

/// The label of `slot`'s requests.
fn label(slot: usize) -> &'static str {
    STANDARD_METHODS
        .get(slot)
        .map_or(OTHER_METHOD, Method::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method_label;
    use poem::http::Method;

    #[test]
    fn every_method_label_has_its_own_slot() {
        let methods = [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::CONNECT,
            Method::OPTIONS,
            Method::TRACE,
            Method::PATCH,
            Method::from_bytes(b"BREW").unwrap(),
        ];
        let labels: Vec<&str> = methods.iter().map(method_label).collect();
        let slots: Vec<usize> = labels.iter().map(|label| slot(label)).collect();
        assert_eq!(slots, (0..SLOTS).collect::<Vec<_>>());
        assert_eq!(labels, (0..SLOTS).map(label).collect::<Vec<_>>());
        assert_eq!((labels[0], labels[SLOTS - 1]), ("GET", "_OTHER"));
    }

    #[test]
    fn only_methods_seen_are_counted_and_they_stay_at_zero() {
        let in_flight = InFlight::default();
        assert_eq!(in_flight.counts().count(), 0);
        in_flight.start("GET");
        in_flight.start("GET");
        in_flight.start("POST");
        in_flight.finish("GET");
        in_flight.finish("POST");
        assert_eq!(
            in_flight.counts().collect::<Vec<_>>(),
            [("GET", 1), ("POST", 0)]
        );
    }
}
