//! The compute limit: heavy computations run on Tokio's blocking pool, at most
//! `concurrency` at a time, with at most `queue` more waiting; beyond that a request is shed
//! at once with `503` and `Retry-After` instead of joining an unbounded queue.
//!
//! Computation never runs on the async workers (except cheap ones, see [`Cost`]), so
//! `/health`, `/ready`, `/metrics` and cheap requests keep answering while every permit is
//! busy. A computation whose client has gone still finishes (it cannot be interrupted), but
//! it holds its permit until then, so abandoned work is bounded too.
//!
//! The server opens a scope with its [`ComputeLimit`] around every request
//! ([`ComputeLimit::scope`]); outside one (a handler called directly in a unit test) a
//! process-wide limit with the default settings applies.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::futures::TaskLocalFuture;

/// How expensive a computation is expected to be.
///
/// The line was measured (docs/reliability.md): results of about 1,000 digits take tens of
/// microseconds, comparable to handing the work to another thread and back, so they stay
/// inline on the async worker; larger ones go to the blocking pool under the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// Computed inline on the async worker, without a permit.
    Cheap,
    /// Computed on the blocking pool under the compute limit.
    Heavy,
}

impl Cost {
    /// `Cheap` for a size up to `cheap_max` (the largest computed inline), else `Heavy`.
    pub fn by_size(size: u64, cheap_max: u64) -> Cost {
        if size <= cheap_max {
            Cost::Cheap
        } else {
            Cost::Heavy
        }
    }
}

/// Settings of the compute limit.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeSettings {
    /// Heavy computations running at once.
    pub concurrency: usize,
    /// Heavy computations waiting for a permit; one more is shed.
    pub queue: usize,
    /// What `Retry-After` tells a shed client.
    pub retry_after: Duration,
}

impl Default for ComputeSettings {
    fn default() -> Self {
        ComputeSettings {
            concurrency: default_concurrency(),
            queue: 64,
            retry_after: Duration::from_secs(1),
        }
    }
}

/// One computation per core: more would only share the cores.
fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Why a request was shed: a closed set, as it labels `mathapi_shed_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// Every permit is busy and the queue is full.
    Overloaded,
}

impl ShedReason {
    /// The label and problem `reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            ShedReason::Overloaded => "overloaded",
        }
    }
}

/// A request shed by the compute limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    pub reason: ShedReason,
    /// What `Retry-After` should say.
    pub retry_after: Duration,
}

/// The permits and the waiting room of heavy computations. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ComputeLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    retry_after: Duration,
}

tokio::task_local! {
    static CURRENT: ComputeLimit;
}

impl ComputeLimit {
    /// A limit with `settings` (a concurrency of 0 is taken as 1).
    pub fn new(settings: &ComputeSettings) -> Self {
        ComputeLimit {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(settings.concurrency.max(1))),
                waiting: AtomicUsize::new(0),
                queue: settings.queue,
                retry_after: settings.retry_after,
            }),
        }
    }

    /// Runs `request` with this limit applying to the computations inside it.
    pub fn scope<F: Future>(&self, request: F) -> TaskLocalFuture<ComputeLimit, F> {
        CURRENT.scope(self.clone(), request)
    }

    /// The limit of the current request (or the process-wide default outside one).
    fn current() -> ComputeLimit {
        CURRENT.try_with(ComputeLimit::clone).unwrap_or_else(|_| {
            static FALLBACK: OnceLock<ComputeLimit> = OnceLock::new();
            FALLBACK
                .get_or_init(|| ComputeLimit::new(&ComputeSettings::default()))
                .clone()
        })
    }

    /// A permit, waiting in the bounded queue if need be; `Err` when the queue is full.
    async fn permit(&self) -> Result<OwnedSemaphorePermit, Shed> {
        if let Ok(permit) = self.inner.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let waiting = WaitingSlot::take(&self.inner).ok_or(Shed {
            reason: ShedReason::Overloaded,
            retry_after: self.inner.retry_after,
        })?;
        let permit = self.inner.permits.clone().acquire_owned().await;
        drop(waiting);
        Ok(permit.expect("the compute semaphore is never closed"))
    }
}

/// A place in the waiting room, given back when dropped (also when the client leaves).
struct WaitingSlot<'a>(&'a Inner);

impl<'a> WaitingSlot<'a> {
    fn take(inner: &'a Inner) -> Option<Self> {
        let before = inner.waiting.fetch_add(1, Ordering::AcqRel);
        if before >= inner.queue {
            inner.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(WaitingSlot(inner))
    }
}

impl Drop for WaitingSlot<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `job` as its `cost` says: inline when cheap, else on the blocking pool under the
/// current request's compute limit. A panic in `job` is resumed here, so the middleware
/// answers it like any handler panic. (Exported as `compute_within_limit`, for handlers
/// that compute without a [`Call`](crate::Call), e.g. the sequence stepper.)
pub async fn run<T: Send + 'static>(
    cost: Cost,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Shed> {
    if cost == Cost::Cheap {
        return Ok(job());
    }
    let permit = ComputeLimit::current().permit().await?;
    let task = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        job()
    });
    match task.await {
        Ok(output) => Ok(output),
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // Only a runtime shutting down cancels blocking tasks.
            Err(error) => panic!("computation cancelled: {error}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(concurrency: usize, queue: usize) -> ComputeSettings {
        ComputeSettings {
            concurrency,
            queue,
            retry_after: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn heavy_work_beyond_permits_and_queue_is_shed_at_once() {
        let limit = ComputeLimit::new(&settings(1, 1));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let busy = tokio::spawn(limit.scope(run(Cost::Heavy, move || {
            released.recv().unwrap();
        })));
        // Wait until the job holds the only permit.
        while limit.inner.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let queued = tokio::spawn(limit.scope(run(Cost::Heavy, || 7)));
        while limit.inner.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let shed = limit.scope(run(Cost::Heavy, || 0)).await;
        assert_eq!(
            shed,
            Err(Shed {
                reason: ShedReason::Overloaded,
                retry_after: Duration::from_secs(1)
            })
        );
        // Cheap work never waits for a permit.
        assert_eq!(limit.scope(run(Cost::Cheap, || 3)).await, Ok(3));
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap(), Ok(7));
        assert_eq!(limit.inner.waiting.load(Ordering::Acquire), 0);
        assert_eq!(limit.inner.permits.available_permits(), 1);
    }

    #[tokio::test]
    async fn a_client_that_leaves_the_queue_gives_its_place_back() {
        let limit = ComputeLimit::new(&settings(1, 1));
        let permit = limit.inner.permits.clone().try_acquire_owned().unwrap();
        let waiting = tokio::spawn(limit.scope(run(Cost::Heavy, || ())));
        while limit.inner.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(limit.inner.waiting.load(Ordering::Acquire), 0);
        drop(permit);
        assert_eq!(limit.scope(run(Cost::Heavy, || 1)).await, Ok(1));
    }
}
