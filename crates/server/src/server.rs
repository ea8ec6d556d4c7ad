//! Binding a listener and serving an endpoint until shutdown, on hyper-util directly.
//!
//! poem's own `Server` loop retries failed accepts in a tight loop (EMFILE spins a core),
//! has no header-read timeout, no connection limit, and closes idle keep-alive connections
//! at once on shutdown (a request already on its way gets EOF). This loop:
//!
//! - accepts at most `max_connections` connections at a time (more wait in the kernel's
//!   backlog), and backs off on accept errors with a rate-limited log line;
//! - serves each connection with hyper-util's auto builder (HTTP/1.1 and h2c), with a
//!   header-read timeout, an idle timeout, a bound on request heads (HTTP/1.1 and HTTP/2),
//!   and HTTP/2 `MAX_CONCURRENT_STREAMS`;
//! - answers a request hyper's HTTP/1.1 parser refuses with a problem document
//!   (`parse_errors`), not hyper's bare status line;
//! - on shutdown stops accepting and drains: `/ready` answers 503 at once (the
//!   [`Draining`] flag rides on every request), every HTTP/1.1 answer carries
//!   `Connection: close`, HTTP/2 connections get GOAWAY, idle connections are closed after
//!   a short linger, and whatever is still open after the grace period is abandoned and
//!   logged.
//!
//! Every request runs inside the compute limit's scope ([`ComputeLimit`]).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Version, http};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::endpoint::BoxEndpoint;
use poem::http::uri::Scheme;
use poem::{Endpoint, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use mathapi_http::{ComputeLimit, ComputeSettings, Draining, HeadLimits};
use mathapi_telemetry::Metrics;

use crate::parse_errors::AnswerParseErrors;

/// The body type poem's response converts into.
type ResponseBody = http_body_util::combinators::BoxBody<bytes::Bytes, io::Error>;

/// How long an idle connection stays open once draining has begun: a request already on
/// its way is still answered (with `Connection: close`).
const DRAIN_LINGER: Duration = Duration::from_secs(1);
/// The first pause after a failed accept; it doubles up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// The longest pause after failed accepts: short, so the server serves again soon after
/// descriptors are freed.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(200);
/// At most one `accept failed` line per this interval; the others are counted in it.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(5);

/// The default bound on a request head: the same on both protocols.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
/// hyper's smallest read buffer: a bound on request heads below it cannot be set.
pub const MIN_MAX_HEADER_BYTES: usize = 8 * 1024;
/// Header fields a request may have (hyper's default, stated here so the answer can say it).
pub const MAX_HEADERS: usize = 100;

/// Connection-level limits of a server. See the README for the flags that set them.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (HTTP/1.1). hyper also applies it
    /// while an HTTP/1.1 connection waits for its next request.
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// HTTP/2 streams one connection may have open at once: the cap on work per
    /// connection (HTTP/1.1 serves one request at a time anyway).
    pub http2_max_concurrent_streams: u32,
    /// Bytes of a request's line and headers (HTTP/1.1: hyper's read buffer, so also what a
    /// connection may hold of a request it has not finished sending; HTTP/2: the header
    /// list). A larger head is answered `431`.
    pub max_header_bytes: usize,
    /// Limits on computation ([`ComputeSettings`]).
    pub compute: ComputeSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            http2_max_concurrent_streams: 32,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            compute: ComputeSettings::default(),
        }
    }
}

/// Where the server is in its life; connections watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    Draining,
    /// The grace period is over: connections still open are dropped.
    Abandoned,
}

/// A bound server, not yet running: bind first so the port is known (port 0 in tests).
pub struct Application {
    listener: std::net::TcpListener,
    address: SocketAddr,
    endpoint: BoxEndpoint<'static, Response>,
    settings: ServerSettings,
    metrics: Option<Metrics>,
}

impl Application {
    /// Binds `address` for `endpoint`, with the default [`ServerSettings`].
    pub fn bind(address: SocketAddr, endpoint: BoxEndpoint<'static, Response>) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(address)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        Ok(Application {
            listener,
            address,
            endpoint,
            settings: ServerSettings::default(),
            metrics: None,
        })
    }

    /// Counts the requests the server answers itself (those its HTTP/1.1 parser refuses) in
    /// `metrics`, with the app's.
    pub fn counting_in(mut self, metrics: &Metrics) -> Self {
        self.metrics = Some(metrics.clone());
        self
    }

    /// Replaces the connection and compute limits.
    pub fn with_settings(mut self, settings: ServerSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The address actually bound.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, then drains: stops accepting, answers what
    /// arrives on open connections with `Connection: close`, and gives them up to `grace`
    /// before abandoning the rest (logged).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> io::Result<()> {
        let listener = TcpListener::from_std(self.listener)?;
        let (phase, _) = watch::channel(Phase::Serving);
        let shared = Arc::new(Shared::new(
            self.endpoint,
            &self.settings,
            self.address,
            self.metrics,
        ));
        let slots = Arc::new(Semaphore::new(self.settings.max_connections.max(1)));
        let mut backoff = AcceptBackoff::default();
        tokio::pin!(shutdown);
        loop {
            let (stream, permit) = tokio::select! {
                _ = &mut shutdown => break,
                accepted = accept(&listener, &slots, &mut backoff) => accepted,
            };
            let connection = Connection {
                shared: shared.clone(),
                phase: phase.subscribe(),
                activity: Arc::new(Activity::default()),
                _permit: permit,
            };
            tokio::spawn(connection.serve(stream));
        }
        drop(listener);
        shared.draining.begin();
        phase.send_replace(Phase::Draining);
        drain(
            &shared,
            &slots,
            &phase,
            self.settings.max_connections.max(1),
            grace,
        )
        .await;
        Ok(())
    }
}

/// Waits until every connection has closed or `grace` is over; then abandons the rest.
async fn drain(
    shared: &Shared,
    slots: &Arc<Semaphore>,
    phase: &watch::Sender<Phase>,
    max_connections: usize,
    grace: Duration,
) {
    let open = max_connections - slots.available_permits();
    // The log contract's `detail` carries the numbers (docs/observability.md).
    tracing::info!(
        detail = %format!(
            "{open} connections open; {:.1} s for them to finish",
            grace.as_secs_f64()
        ),
        "draining"
    );
    // Every connection holds a slot: all slots back means all connections closed.
    let all_closed = slots.acquire_many(max_connections as u32);
    if tokio::time::timeout(grace, all_closed).await.is_err() {
        let open = max_connections - slots.available_permits();
        tracing::warn!(
            detail = %format!(
                "{open} connections and {} requests abandoned",
                shared.in_flight.load(Ordering::Relaxed)
            ),
            "grace period over; abandoning open connections"
        );
        phase.send_replace(Phase::Abandoned);
    }
}

/// Accepts the next connection once a connection slot is free. Accept errors (EMFILE,
/// ENFILE, ENOBUFS, ...) pause the loop instead of spinning on them.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    backoff: &mut AcceptBackoff,
) -> (TcpStream, OwnedSemaphorePermit) {
    loop {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the connection semaphore is never closed");
        match listener.accept().await {
            Ok((stream, _)) => {
                backoff.succeeded();
                return (stream, permit);
            }
            Err(error) => backoff.failed(&error).await,
        }
    }
}

/// Exponential pause after failed accepts, with at most one log line per
/// [`ACCEPT_LOG_INTERVAL`].
#[derive(Debug, Default)]
struct AcceptBackoff {
    delay: Option<Duration>,
    last_logged: Option<Instant>,
    suppressed: u64,
}

impl AcceptBackoff {
    fn succeeded(&mut self) {
        self.delay = None;
    }

    async fn failed(&mut self, error: &io::Error) {
        let delay = self
            .delay
            .map_or(ACCEPT_BACKOFF_MIN, |d| (d * 2).min(ACCEPT_BACKOFF_MAX));
        self.delay = Some(delay);
        if self
            .last_logged
            .is_none_or(|at| at.elapsed() >= ACCEPT_LOG_INTERVAL)
        {
            tracing::warn!(
                detail = %format!(
                    "{error}; {} more since the last report; retrying in {} ms",
                    self.suppressed,
                    delay.as_millis()
                ),
                "accept failed"
            );
            self.last_logged = Some(Instant::now());
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        tokio::time::sleep(delay).await;
    }
}

/// What every connection of a server shares.
struct Shared {
    endpoint: BoxEndpoint<'static, Response>,
    builder: auto::Builder<TokioExecutor>,
    draining: Draining,
    compute: ComputeLimit,
    local: SocketAddr,
    idle_timeout: Duration,
    /// What a refused request head is told, and where it is counted.
    head_limits: HeadLimits,
    metrics: Option<Metrics>,
    /// Requests being handled, over all connections (logged when abandoned).
    in_flight: AtomicUsize,
}

impl Shared {
    fn new(
        endpoint: BoxEndpoint<'static, Response>,
        settings: &ServerSettings,
        local: SocketAddr,
        metrics: Option<Metrics>,
    ) -> Self {
        let max_header_bytes = settings.max_header_bytes.max(MIN_MAX_HEADER_BYTES);
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            // The read buffer is where an unfinished head waits: its bound is the memory a
            // connection can be made to hold.
            .max_buf_size(max_header_bytes)
            .max_headers(MAX_HEADERS)
            .keep_alive(true);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(settings.http2_max_concurrent_streams)
            // Bounds the work of a client that opens and resets streams (CVE-2023-44487).
            .max_pending_accept_reset_streams(Some(20))
            .max_header_list_size(u32::try_from(max_header_bytes).unwrap_or(u32::MAX));
        Shared {
            endpoint,
            builder,
            draining: Draining::default(),
            compute: ComputeLimit::new(&settings.compute),
            local,
            idle_timeout: settings.idle_timeout,
            head_limits: HeadLimits {
                max_bytes: max_header_bytes,
                max_headers: MAX_HEADERS,
            },
            metrics,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// One request through poem's endpoint, inside the compute limit's scope; HTTP/1.1
    /// answers say `Connection: close` while draining.
    async fn respond(
        &self,
        request: http::Request<Incoming>,
        remote: SocketAddr,
    ) -> http::Response<ResponseBody> {
        let http1 = request.version() <= Version::HTTP_11;
        let mut request = poem::Request::from((
            request,
            poem::web::LocalAddr(poem::Addr::SocketAddr(self.local)),
            poem::web::RemoteAddr(poem::Addr::SocketAddr(remote)),
            Scheme::HTTP,
        ));
        request.set_data(self.draining.clone());
        let response = self
            .compute
            .scope(self.endpoint.get_response(request))
            .await;
        let mut response = http::Response::<ResponseBody>::from(response);
        if http1 && self.draining.is_draining() {
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Requests in flight on one connection, and when the last one ended.
#[derive(Debug, Default)]
struct Activity {
    in_flight: AtomicUsize,
    /// Milliseconds since `EPOCH` of the last request's end (or start), for idleness.
    last_active_ms: AtomicU64,
    /// Whether the connection speaks HTTP/2 (known from its first request).
    http2: AtomicBool,
}

/// The instant idle times are measured from; a monotonic clock as a number.
fn now_ms() -> u64 {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl Activity {
    fn begin(&self, version: Version) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
        if version == Version::HTTP_2 {
            self.http2.store(true, Ordering::Relaxed);
        }
    }

    fn end(&self) {
        self.last_active_ms.store(now_ms(), Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    /// How long the connection has been idle, `None` while a request is in flight.
    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let since = now_ms().saturating_sub(self.last_active_ms.load(Ordering::Relaxed));
        Some(Duration::from_millis(since))
    }
}

/// Ends a request's activity even if its future is dropped (client gone, abandoned).
struct InFlight<'a> {
    activity: &'a Activity,
    shared: &'a Shared,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.activity.end();
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One accepted connection and what it needs to be served and closed.
struct Connection {
    shared: Arc<Shared>,
    phase: watch::Receiver<Phase>,
    activity: Arc<Activity>,
    /// Frees the connection's slot when dropped.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        let Ok(remote) = stream.peer_addr() else {
            return;
        };
        let _ = stream.set_nodelay(true);
        self.activity
            .last_active_ms
            .store(now_ms(), Ordering::Relaxed);
        let service = hyper::service::service_fn({
            let shared = self.shared.clone();
            let activity = self.activity.clone();
            move |request: http::Request<Incoming>| {
                let shared = shared.clone();
                let activity = activity.clone();
                async move {
                    activity.begin(request.version());
                    shared.in_flight.fetch_add(1, Ordering::Relaxed);
                    let _in_flight = InFlight {
                        activity: &activity,
                        shared: &shared,
                    };
                    Ok::<_, Infallible>(shared.respond(request, remote).await)
                }
            }
        });
        let builder = self.shared.builder.clone();
        let stream =
            AnswerParseErrors::new(stream, self.shared.head_limits, self.shared.metrics.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let closing = tokio::select! {
            result = connection.as_mut() => {
                log_connection_error(result);
                return;
            }
            closing = self.close_when_due() => closing,
        };
        if closing == Phase::Abandoned {
            return;
        }
        connection.as_mut().graceful_shutdown();
        tokio::select! {
            result = connection => log_connection_error(result),
            _ = self.phase.wait_for(|p| *p == Phase::Abandoned) => {}
        }
    }

    /// Completes when the connection should be closed: idle too long, draining (at once for
    /// HTTP/2, after [`DRAIN_LINGER`] of idleness for HTTP/1.1), or abandoned.
    async fn close_when_due(&mut self) -> Phase {
        loop {
            let phase = *self.phase.borrow_and_update();
            let limit = match phase {
                Phase::Abandoned => return phase,
                Phase::Draining if self.activity.http2.load(Ordering::Relaxed) => return phase,
                Phase::Draining => DRAIN_LINGER,
                Phase::Serving => self.shared.idle_timeout,
            };
            let wait = match self.activity.idle_for() {
                Some(idle) if idle >= limit => return phase,
                Some(idle) => limit - idle,
                // Busy: look again later; a request ending does not need to wake us.
                None => limit,
            };
            if let Ok(Err(_)) = tokio::time::timeout(wait, self.phase.changed()).await {
                // The server is gone; nothing will tell this connection anything again.
                return Phase::Abandoned;
            }
            if phase == Phase::Serving && *self.phase.borrow() == Phase::Draining {
                // Idleness while draining counts from the start of the drain.
                let now = now_ms();
                self.activity
                    .last_active_ms
                    .fetch_max(now, Ordering::Relaxed);
            }
        }
    }
}

fn log_connection_error(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    // Clients that vanish, time out or speak garbage are routine; not worth more than debug.
    if let Err(error) = result {
        tracing::debug!(error = %error, "connection ended with an error");
    }
}
