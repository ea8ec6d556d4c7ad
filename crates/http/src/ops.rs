//! Operational endpoints every server has: liveness, readiness and metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::future::BoxFuture;
use poem::http::StatusCode;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use crate::problem::Problem;
use mathapi_telemetry::Metrics;

/// A dependency that must be reachable before the server is ready (e.g. Redis).
pub trait Readiness: Send + Sync + 'static {
    /// What is checked, e.g. `redis`; shown in the `/ready` answer.
    fn name(&self) -> &'static str;
    /// `Err` with a reason when the dependency cannot be used now.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// Whether the server is draining; the server puts it on every request (`Request::data`),
/// so `/ready` can answer 503 as soon as shutdown begins.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// True once shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Marks shutdown as begun: from now on `/ready` answers 503.
    pub fn begin(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[derive(Tags)]
enum OpsTags {
    /// Liveness, readiness and metrics.
    Operations,
}

/// Health answer.
#[derive(Debug, Object)]
pub struct Status {
    /// `ok` (alive) or `ready`.
    pub status: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// Every dependency is reachable.
    #[oai(status = 200)]
    Ready(Json<Status>),
    /// A dependency is not reachable; the detail says which.
    #[oai(status = 503, content_type = "application/problem+json")]
    NotReady(Json<Problem>),
}

/// `/health`, `/ready` and `/metrics`.
#[derive(Clone)]
pub struct OpsApi {
    metrics: Metrics,
    checks: Arc<Vec<Arc<dyn Readiness>>>,
    scrapes: Arc<Scrapes>,
}

impl OpsApi {
    pub fn new(metrics: Metrics, checks: Vec<Arc<dyn Readiness>>) -> Self {
        OpsApi {
            metrics,
            checks: Arc::new(checks),
            scrapes: Arc::default(),
        }
    }
}

/// `/metrics` pages are rendered one at a time, on the blocking pool: a flood of scrapes
/// neither occupies the async workers that answer `/health` nor renders the page once per
/// scrape. A scrape takes the page of a render that started after it arrived (so it sees
/// everything counted before it), or renders one itself when its turn comes.
#[derive(Default)]
struct Scrapes {
    last: tokio::sync::Mutex<Option<Page>>,
}

/// A rendered `/metrics` page and when its rendering started.
struct Page {
    started: Instant,
    text: Arc<String>,
}

impl Scrapes {
    async fn page(&self, metrics: &Metrics) -> Arc<String> {
        let arrived = Instant::now();
        let mut last = self.last.lock().await;
        if let Some(page) = last.as_ref().filter(|page| page.started >= arrived) {
            return page.text.clone();
        }
        let started = Instant::now();
        let metrics = metrics.clone();
        let text = tokio::task::spawn_blocking(move || metrics.render())
            .await
            .unwrap_or_default();
        let text = Arc::new(text);
        *last = Some(Page {
            started,
            text: text.clone(),
        });
        text
    }
}

#[OpenApi(tag = "OpsTags::Operations")]
impl OpsApi {
    /// Liveness: the process is up and serving.
    #[oai(path = "/health", method = "get")]
    async fn health(&self) -> Json<Status> {
        Json(Status {
            status: "ok".into(),
        })
    }

    /// Readiness: the server is not shutting down, and every dependency (e.g. Redis for the
    /// sequence stepper) is reachable.
    #[oai(path = "/ready", method = "get")]
    async fn ready(&self, request: &poem::Request) -> ReadyResponse {
        // The server marks every request while it drains: the proxy must stop routing here.
        if request
            .data::<Draining>()
            .is_some_and(Draining::is_draining)
        {
            return ReadyResponse::NotReady(Json(Problem::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: shutting down",
            )));
        }
        let mut failures = Vec::new();
        for check in self.checks.iter() {
            if let Err(reason) = check.check().await {
                failures.push(format!("{}: {reason}", check.name()));
            }
        }
        if failures.is_empty() {
            ReadyResponse::Ready(Json(Status {
                status: "ready".into(),
            }))
        } else {
            ReadyResponse::NotReady(Json(Problem::from_status(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}", failures.join("; ")),
            )))
        }
    }

    /// Metrics in the Prometheus text format: request durations by route, method and status,
    /// requests in flight, computation times, rejected inputs by reason, sequence steps and
    /// commit times, build info, and the process's CPU, memory and file descriptors.
    #[oai(path = "/metrics", method = "get")]
    async fn metrics(&self) -> PlainText<String> {
        PlainText(self.scrapes.page(&self.metrics).await.as_str().to_owned())
    }
}
