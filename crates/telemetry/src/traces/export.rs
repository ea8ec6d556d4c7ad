//! Sending spans without ever holding up a request: a bounded queue in front of the SDK's
//! batch processor ([`BoundedProcessor`]) and an HTTP client that runs on its own small
//! runtime ([`ExportClient`]).
//!
//! Why a wrapper around `BatchSpanProcessor`: the SDK's processor does bound its queue and
//! drop what does not fit, but its drop count is private (it only reaches an internal log
//! line at shutdown). Here every span handed to the batch processor is counted as pending
//! until an export of it has finished (successfully, failed or timed out); a span that
//! would take the pending count past the bound is dropped and counted in
//! `mathapi_trace_spans_dropped_total`. The batch processor's own queue has the same bound,
//! so it never drops on its own: the metric is the whole story.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry::Context;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Span, SpanData, SpanExporter, SpanProcessor};

/// How many spans are waiting for export, and how many were dropped. Shared by the
/// processor, the exporter and the metrics.
#[derive(Debug, Default)]
pub struct QueueCounts {
    pending: AtomicUsize,
    dropped: AtomicU64,
}

impl QueueCounts {
    /// Spans dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Spans finished but not yet exported.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Takes a place in the queue, or counts a drop when it is full.
    fn admit(&self, bound: usize) -> bool {
        let admitted = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                (n < bound).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    /// `spans` have left the queue (exported or given up on).
    fn release(&self, spans: usize) {
        let _ = self
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(spans))
            });
    }
}

/// The SDK's batch processor behind a counted bound (see the module docs).
#[derive(Debug)]
pub struct BoundedProcessor {
    inner: BatchSpanProcessor,
    counts: Arc<QueueCounts>,
    bound: usize,
}

impl BoundedProcessor {
    /// `inner` must have been built with a queue of at least `bound` spans and an exporter
    /// wrapped in [`CountingExporter`] over the same `counts`.
    pub fn new(inner: BatchSpanProcessor, counts: Arc<QueueCounts>, bound: usize) -> Self {
        BoundedProcessor {
            inner,
            counts,
            bound,
        }
    }
}

impl SpanProcessor for BoundedProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        // Unsampled spans are not exported: they take no place in the queue.
        if !span.span_context.is_sampled() {
            return;
        }
        if self.counts.admit(self.bound) {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that releases the queue places of the spans it has finished with.
#[derive(Debug)]
pub struct CountingExporter<E> {
    inner: E,
    counts: Arc<QueueCounts>,
}

impl<E> CountingExporter<E> {
    /// Wraps `inner`, releasing places in `counts`.
    pub fn new(inner: E, counts: Arc<QueueCounts>) -> Self {
        CountingExporter { inner, counts }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.counts.release(spans);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP exporter's HTTP client: hyper, on a one-thread runtime of its own.
///
/// The batch processor exports from its own thread with a plain executor, where hyper has no
/// reactor; and the server's runtime may be draining or gone when the last spans are
/// flushed at shutdown. So the requests run on a runtime that lives as long as the exporter.
/// Each request is bounded by the export timeout (connect, send and response together).
pub struct ExportClient {
    runtime: Arc<tokio::runtime::Runtime>,
    inner: opentelemetry_http::hyper::HyperClient,
}

impl ExportClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        Ok(ExportClient {
            runtime: Arc::new(runtime),
            inner: opentelemetry_http::hyper::HyperClient::with_default_connector(timeout, None),
        })
    }

    /// Waits `pause` on the client's runtime (the exporter's own thread has no timer: the
    /// timer is made inside the task).
    pub async fn sleep(&self, pause: Duration) {
        let _ = self
            .runtime
            .spawn(async move { tokio::time::sleep(pause).await })
            .await;
    }
}

impl fmt::Debug for ExportClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportClient").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let inner = self.inner.clone();
        self.runtime
            .spawn(async move { inner.send_bytes(request).await })
            .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_admits_up_to_its_bound_and_counts_the_rest() {
        let counts = QueueCounts::default();
        let admitted = (0..10).filter(|_| counts.admit(4)).count();
        assert_eq!((admitted, counts.pending(), counts.dropped()), (4, 4, 6));
        counts.release(3);
        assert!(counts.admit(4));
        assert_eq!((counts.pending(), counts.dropped()), (2, 6));
        counts.release(100);
        assert_eq!(counts.pending(), 0, "never below zero");
    }
}
