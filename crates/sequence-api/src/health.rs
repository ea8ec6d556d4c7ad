//! [`Health`]: whether the sequence's storage answers, kept apart from `/ready`.
//!
//! The storage serves the stepper's routes only; every other route of the process works
//! without it. So its health never gates `/ready` (a Redis restart must not take the math
//! routes out of the load balancer): it is the gauge `mathapi.sequence.store.available`
//! (`mathapi_sequence_store_available`: 1 = the storage answers, 0 = unreachable, stalled,
//! its state lost or out of range), and the stepper's own answers (`503`).
//!
//! The gauge follows every operation's outcome at once, and a monitor task probes the
//! storage: every [`HEALTHY_INTERVAL`] for a shared backend (Redis can go away while no
//! request comes), and every [`PROBE_INTERVAL`] while the storage is unhealthy (for either
//! backend), so that the gauge and the stall come back without traffic.
//!
//! A *stall* (a change that missed the commit deadline) refuses further changes at once
//! until the storage answers a probe again. Any answer ends it, including "the state was
//! lost" or "the stored index is out of range": the storage is responsive, and the
//! operator's reset must be able to reach it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use mathapi_sequence::{SequenceError, SequenceStore, Store};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Gauge, Meter};
use tokio::sync::Notify;

/// How often a healthy shared storage (Redis) is probed.
pub(crate) const HEALTHY_INTERVAL: Duration = Duration::from_secs(1);
/// How often an unhealthy storage is probed.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// The storage's health, shared by the routes and the monitor task.
pub(crate) struct Health {
    backend: &'static str,
    commit_timeout: Duration,
    /// A change missed the commit deadline and no probe has been answered since.
    stalled: AtomicBool,
    /// The last operation or probe got a good answer.
    answers: AtomicBool,
    /// The value last recorded on the gauge.
    shown: AtomicBool,
    gauge: Gauge<u64>,
    /// Wakes the monitor when the storage turns unhealthy.
    wake: Notify,
}

impl Health {
    /// The health of a storage of `backend`, which answers (`answers`) or is still unknown.
    pub(crate) fn new(
        meter: &Meter,
        backend: &'static str,
        commit_timeout: Duration,
        answers: bool,
    ) -> Arc<Self> {
        let gauge = meter
            .u64_gauge("mathapi.sequence.store.available")
            .with_description(
                "1 when the sequence storage answers; 0 when it is unreachable, stalled, or its state is lost or out of range.",
            )
            .build();
        gauge.record(u64::from(answers), &[KeyValue::new("backend", backend)]);
        Arc::new(Health {
            backend,
            commit_timeout,
            stalled: AtomicBool::new(false),
            answers: AtomicBool::new(answers),
            shown: AtomicBool::new(answers),
            gauge,
            wake: Notify::new(),
        })
    }

    /// Whether changes are refused because of a stall.
    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Acquire)
    }

    /// Whether the storage answers and is not stalled (the gauge's value).
    pub(crate) fn is_available(&self) -> bool {
        self.answers.load(Ordering::Acquire) && !self.is_stalled()
    }

    /// A change missed the commit deadline: refuse changes until the storage answers.
    pub(crate) fn mark_stalled(&self) {
        if !self.stalled.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                detail = %format!(
                    "the {} backend did not confirm a change within {}",
                    self.backend,
                    humantime::format_duration(self.commit_timeout)
                ),
                "sequence storage missed the commit deadline; refusing changes until it recovers"
            );
        }
        self.update();
    }

    /// Takes in what an operation's store call answered. Only a change's answer proves
    /// that the storage is healthy (the embedded store answers reads from memory); any
    /// failure to answer shows at once.
    pub(crate) fn observe(&self, changed: bool, result: &Result<u64, SequenceError>) {
        match result {
            Ok(_)
            | Err(
                SequenceError::AtEnd { .. }
                | SequenceError::AtStart
                | SequenceError::KeyReused { .. },
            ) => {
                if changed {
                    self.answered(true);
                }
            }
            Err(SequenceError::StateLost | SequenceError::OutOfRange { .. }) => {
                self.answered(false)
            }
            Err(
                SequenceError::Unavailable(_)
                | SequenceError::OutcomeUnknown(_)
                | SequenceError::Io(_),
            ) => self.failed(),
        }
    }

    /// Takes in a probe's answer (`None`: no answer within the commit deadline).
    fn probed(&self, result: Option<Result<(), SequenceError>>) {
        match result {
            Some(Ok(())) => self.answered(true),
            Some(Err(SequenceError::StateLost | SequenceError::OutOfRange { .. })) => {
                self.answered(false)
            }
            Some(Err(_)) | None => self.failed(),
        }
    }

    /// The storage answered; `good`: with a usable state.
    fn answered(&self, good: bool) {
        if self.stalled.swap(false, Ordering::AcqRel) {
            tracing::info!(
                detail = %format!("the {} backend answers again", self.backend),
                "sequence storage answers again"
            );
        }
        self.answers.store(good, Ordering::Release);
        self.update();
    }

    fn failed(&self) {
        self.answers.store(false, Ordering::Release);
        self.update();
    }

    /// Records the gauge when its value changes, and wakes the monitor when unhealthy.
    fn update(&self) {
        let available = self.is_available();
        if !available {
            self.wake.notify_one();
        }
        if self.shown.swap(available, Ordering::AcqRel) != available {
            self.gauge.record(
                u64::from(available),
                &[KeyValue::new("backend", self.backend)],
            );
        }
    }

    /// Probes `store` until it is dropped: see the module's description. `periodic`: also
    /// while healthy (a shared backend).
    pub(crate) fn spawn_monitor(self: &Arc<Self>, store: Weak<Store>, periodic: bool) {
        let health = Arc::clone(self);
        tokio::spawn(async move {
            let mut first = periodic;
            loop {
                if !first {
                    health.wait_for_probe(periodic).await;
                }
                first = false;
                // Holds the store only while probing, so that dropping the sequence closes it.
                let Some(store) = store.upgrade() else {
                    return;
                };
                let result = tokio::time::timeout(health.commit_timeout, store.ready()).await;
                drop(store);
                health.probed(result.ok());
            }
        });
    }

    /// Waits until the next probe is due.
    async fn wait_for_probe(&self, periodic: bool) {
        if !self.is_available() {
            tokio::time::sleep(PROBE_INTERVAL).await;
        } else if periodic {
            tokio::select! {
                () = tokio::time::sleep(HEALTHY_INTERVAL) => {}
                () = self.wake.notified() => {}
            }
        } else {
            self.wake.notified().await;
        }
    }
}
